/* outer
   /* nested */
   TODO: still inside the outer comment
*/
fn main() {
    let s = r#"HACK: a raw string "quoted" "#;
    // XXX: a line comment
}
