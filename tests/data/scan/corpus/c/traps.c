// TODO: a line comment
int a = 1; // FIXME(alice): a trailing comment
const char *s = "TODO: not a comment, a string";
char c = '/'; /* HACK: a block comment after a char literal */
const char *url = "http://example.com/TODO"; // XXX: after a URL in a string
/* a block comment
 * BUG: on its second line
 */
char q = '"'; // OPTIMIZE: after a quote in a char literal
int b = 2; /* todo: lower case is not a default marker */
const char *t = "a // FIXME: inside a string, after //";
