/*
 * test_metrics.c: per-function metrics and thresholds (scan/metrics.h).
 *
 * Contract checked, per family, on sources blanked by the real lexer:
 * which functions are found (and which blocks are not functions), their
 * names, first and last lines, parameter counts, complexity (1 + decision
 * points of the innermost function) and nesting (deepest block, the body
 * being 0). Brace family: C with K&R definitions, prototypes,
 * initialisers, macro loops and #if/#else branches; C++ namespaces,
 * classes, templates, constructors with initialisers, operators, lambdas;
 * Java anonymous classes, lambdas and switch rules; JS/TS functions,
 * methods, arrow functions; Go methods with receivers and result lists,
 * func literals; Rust impls, closures and match arms. Indent family:
 * Python defs, methods, nested defs, decorators, one-liners, continuation
 * lines, docstrings at column 0. Keyword family: Ruby, Lua, shell, Elixir.
 * Then the thresholds and their text, line counting, unbalanced input,
 * stopping from the callback and bad arguments.
 *
 * Each table row states every function of a source as
 * "name:first-last pP cC nN", sorted by first line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/metrics.h"
#include "tests/scan/leaks.h"
#include "tests/scan/scan_test.h"

TestSuite(metrics, .timeout = 30, .fini = scan_test_check_leaks);

typedef struct {
  char row[128];
  uint32_t line;
} fn_row_t;

typedef struct {
  fn_row_t v[64];
  int n;
  int stop_after;
} fn_list_t;

static int collect(void *ud, const scan_function_t *f)
{
  fn_list_t *l = ud;
  if (l->n < 64) {
    cr_assert_eq(f->lines, f->end_line - f->line + 1);
    snprintf(l->v[l->n].row, sizeof l->v[l->n].row, "%.*s:%u-%u p%u c%u n%u",
             (int)(f->name ? f->name_len : 6), f->name ? f->name : "<anon>",
             f->line, f->end_line, f->params, f->complexity, f->nesting);
    l->v[l->n].line = f->line;
  }
  l->n++;
  return l->stop_after && l->n >= l->stop_after;
}

static int by_line(const void *a, const void *b)
{
  const fn_row_t *x = a, *y = b;
  if (x->line != y->line)
    return x->line < y->line ? -1 : 1;
  return strcmp(x->row, y->row);
}

/* Every function of src (in lang), as described above. */
static char *functions_of(const char *lang, const char *src)
{
  char *blank = stst_blank(lang, src);
  fn_list_t l;
  memset(&l, 0, sizeof l);
  int n = scan_functions(stst_lang(lang)->family, blank, strlen(blank), collect, &l);
  cr_assert_eq(n, l.n);
  qsort(l.v, (size_t)l.n, sizeof l.v[0], by_line);
  char *out = calloc(1, 64 * 130);
  for (int i = 0; i < l.n; i++) {
    if (i)
      strcat(out, " | ");
    strcat(out, l.v[i].row);
  }
  free(blank);
  return out;
}

static void expect_functions(const char *lang, const char *src, const char *want)
{
  char *got = functions_of(lang, src);
  cr_assert_str_eq(got, want, "%s", lang);
  free(got);
}

/* ---- brace family ---- */

Test(metrics, c_definitions_not_prototypes_initialisers_or_structs)
{
  expect_functions("c",
      "#include <stdio.h>\n"                       /* 1 */
      "static int table[] = { 1, 2, 3 };\n"        /* 2 */
      "struct point { int x, y; };\n"              /* 3 */
      "int proto(int a, int b);\n"                 /* 4 */
      "int\n"                                      /* 5 */
      "old_style(a, b)\n"                          /* 6 */
      "  int a;\n"                                 /* 7 */
      "  char *b;\n"                               /* 8 */
      "{\n"                                        /* 9 */
      "  return a > 0 && b;\n"                     /* 10 */
      "}\n"                                        /* 11 */
      "void empty(void) {}\n"                      /* 12 */
      "static struct point *\n"                    /* 13 */
      "make(int x, int y,)\n"                      /* 14 */
      "{\n"                                        /* 15 */
      "  struct point p = { x, y };\n"             /* 16 */
      "  return NULL;\n"                           /* 17 */
      "}\n",                                       /* 18 */
      "old_style:6-11 p2 c2 n0 | empty:12-12 p0 c1 n0 | make:14-18 p2 c1 n0");
}

Test(metrics, c_complexity_nesting_macro_loops_and_preprocessor_branches)
{
  expect_functions("c",
      "int f(int x, int y)\n"                                   /* 1 */
      "{\n"                                                     /* 2 */
      "  list_for_each(x, y) {\n"                               /* 3 */
      "    if (x || y) { while (y) { y--; } }\n"                /* 4 */
      "  }\n"                                                   /* 5 */
      "#ifdef FOO\n"                                            /* 6 */
      "  if (x) {\n"                                            /* 7 */
      "#else\n"                                                 /* 8 */
      "  if (y) {\n"                                            /* 9 */
      "#endif\n"                                                /* 10 */
      "    x = x ? 1 : 2; /* if (a) { while } */\n"             /* 11 */
      "  }\n"                                                   /* 12 */
      "  switch (x) { case 1: case 2: break; default: break; }\n" /* 13 */
      "  for (;;) { \"if while { \"; }\n"                       /* 14 */
      "  return 0;\n"                                           /* 15 */
      "}\n"                                                     /* 16 */
      "int g(void) { return 1; }\n",                            /* 17 */
      "f:1-16 p2 c9 n3 | g:17-17 p0 c1 n0");
}

Test(metrics, cpp_namespaces_classes_templates_and_lambdas)
{
  expect_functions("cpp",
      "namespace ns {\n"                                                  /* 1 */
      "template <typename T, class U>\n"                                  /* 2 */
      "T maxof(T a, U b) { return a > b ? a : b; }\n"                     /* 3 */
      "class Widget : public Base {\n"                                    /* 4 */
      "public:\n"                                                         /* 5 */
      "  Widget(int a) : a_(a), b_(0) { }\n"                              /* 6 */
      "  ~Widget() { }\n"                                                 /* 7 */
      "  int get() const noexcept override { return a_; }\n"              /* 8 */
      "  bool operator==(const Widget &o) const { return a_ == o.a_; }\n" /* 9 */
      "  auto lam() -> int {\n"                                           /* 10 */
      "    auto f = [&](int x, int y) { if (x) return y; return x; };\n"  /* 11 */
      "    return f(1, 2);\n"                                             /* 12 */
      "  }\n"                                                             /* 13 */
      "};\n"                                                              /* 14 */
      "}\n"                                                               /* 15 */
      "int Widget::method(std::map<int, int> m, int x) { for (;;) { } }\n" /* 16 */
      "extern \"C\" {\n"                                                  /* 17 */
      "int cfunc(void) { return 0; }\n"                                   /* 18 */
      "}\n",                                                              /* 19 */
      "maxof:3-3 p2 c2 n0 | Widget:6-6 p1 c1 n0 | ~Widget:7-7 p0 c1 n0 | "
      "get:8-8 p0 c1 n0 | operator==:9-9 p1 c1 n0 | lam:10-13 p0 c1 n1 | "
      "f:11-11 p2 c2 n0 | Widget::method:16-16 p2 c2 n1 | cfunc:18-18 p0 c1 n0");
}

Test(metrics, java_anonymous_classes_lambdas_and_switch_rules)
{
  expect_functions("java",
      "public class A extends B implements C {\n"             /* 1 */
      "  private int[] a = {1, 2};\n"                         /* 2 */
      "  @Override\n"                                         /* 3 */
      "  public void run() throws IOException, X {\n"         /* 4 */
      "    new Thread(new Runnable() {\n"                     /* 5 */
      "      public void run() { go(); }\n"                   /* 6 */
      "    }).start();\n"                                     /* 7 */
      "    list.forEach(x -> { if (x) { y(); } });\n"         /* 8 */
      "    switch (k) { case 1 -> { a(); } default -> { } }\n" /* 9 */
      "  }\n"                                                 /* 10 */
      "  public static <T> List<T> gen(List<T> in, int n) { return in; }\n" /* 11 */
      "}\n",                                                  /* 12 */
      "run:4-10 p0 c2 n2 | run:6-6 p0 c1 n0 | <anon>:8-8 p1 c2 n1 | "
      "gen:11-11 p2 c1 n0");
}

Test(metrics, javascript_functions_methods_and_arrows)
{
  expect_functions("javascript",
      "function top(a, b) { return a || b; }\n"               /* 1 */
      "const arrow = (x, y) => { return x ? y : 0; };\n"      /* 2 */
      "const one = x => { return x; };\n"                     /* 3 */
      "export default {\n"                                    /* 4 */
      "  methods: { click(e) { if (e) { go(); } } },\n"       /* 5 */
      "};\n"                                                  /* 6 */
      "class K extends L {\n"                                 /* 7 */
      "  constructor(a) { super(a); }\n"                      /* 8 */
      "  static async load(url) { return fetch(url); }\n"     /* 9 */
      "  handle = async (ev) => { ev.stop(); };\n"            /* 10 */
      "}\n"                                                   /* 11 */
      "app.get('/', function (req, res) {\n"                  /* 12 */
      "  function inner(q) { return q; }\n"                   /* 13 */
      "  if (req) { res.send(inner(req)); }\n"                /* 14 */
      "});\n"                                                 /* 15 */
      "const o = { a: { b: 1 } };\n",                         /* 16 */
      "top:1-1 p2 c2 n0 | arrow:2-2 p2 c2 n0 | one:3-3 p1 c1 n0 | "
      "click:5-5 p1 c2 n1 | constructor:8-8 p1 c1 n0 | load:9-9 p1 c1 n0 | "
      "handle:10-10 p1 c1 n0 | <anon>:12-15 p2 c2 n1 | inner:13-13 p1 c1 n0");
}

Test(metrics, typescript_typed_arrows_generics_and_types)
{
  expect_functions("typescript",
      "interface A { x: number }\n"
      "type T = { a: string };\n"
      "export function f<T>(a: T, b: { x: number }): string { return ''; }\n"
      "const g = async (a: number): Promise<void> => { await h(a); };\n",
      "f:3-3 p2 c1 n0 | g:4-4 p1 c1 n0");
}

Test(metrics, go_methods_with_receivers_result_lists_and_func_literals)
{
  expect_functions("go",
      "package main\n"                                                    /* 1 */
      "type Server struct { a int }\n"                                    /* 2 */
      "func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {\n" /* 3 */
      "\tif err := s.check(r); err != nil {\n"                            /* 4 */
      "\t\treturn\n"                                                      /* 5 */
      "\t}\n"                                                             /* 6 */
      "\tfor _, v := range s.items {\n"                                   /* 7 */
      "\t\tgo func(x int) {\n"                                            /* 8 */
      "\t\t\tfmt.Println(x)\n"                                            /* 9 */
      "\t\t}(v)\n"                                                        /* 10 */
      "\t}\n"                                                             /* 11 */
      "}\n"                                                               /* 12 */
      "func New() *Server { return &Server{} }\n"                         /* 13 */
      "func div(a, b int) (int, error) {\n"                               /* 14 */
      "\tif b == 0 && a > 0 { return 0, nil }\n"                          /* 15 */
      "\treturn a / b, nil\n"                                             /* 16 */
      "}\n",                                                              /* 17 */
      "Handle:3-12 p2 c3 n2 | <anon>:8-10 p1 c1 n0 | New:13-13 p0 c1 n0 | "
      "div:14-17 p2 c3 n1");
}

Test(metrics, rust_impls_closures_and_match_arms)
{
  expect_functions("rust",
      "struct P { x: i32 }\n"                                                 /* 1 */
      "impl<T: Display> fmt::Display for Wrapper<T> {\n"                      /* 2 */
      "    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n"          /* 3 */
      "        match self.0 {\n"                                              /* 4 */
      "            Some(x) => { write!(f, \"{}\", x) }\n"                     /* 5 */
      "            _ => { Ok(()) }\n"                                         /* 6 */
      "        }\n"                                                           /* 7 */
      "    }\n"                                                               /* 8 */
      "}\n"                                                                   /* 9 */
      "pub fn parse<'a>(s: &'a str) -> Result<Vec<u8>, ()> where T: Clone {\n" /* 10 */
      "    let p = P { x: 1 };\n"                                             /* 11 */
      "    if let Some(v) = foo(s) { return Ok(v); }\n"                       /* 12 */
      "    let c = |a, b| { a + b };\n"                                       /* 13 */
      "    thread::spawn(move || { run(); });\n"                              /* 14 */
      "    Ok(vec![])\n"                                                      /* 15 */
      "}\n",                                                                  /* 16 */
      "fmt:3-8 p2 c1 n2 | parse:10-16 p1 c2 n1 | <anon>:13-13 p2 c1 n0 | "
      "<anon>:14-14 p0 c1 n0");
}

/* ---- indent family ---- */

Test(metrics, python_functions_methods_nested_defs_and_one_liners)
{
  expect_functions("python",
      "import os\n"                                        /* 1 */
      "\n"                                                 /* 2 */
      "@decorator(arg=1)\n"                                /* 3 */
      "def top(a, b=2, *args, **kw):\n"                    /* 4 */
      "    \"\"\"Doc string\n"                             /* 5 */
      "with a line at column 0: def x(): if\n"             /* 6 */
      "\"\"\"\n"                                           /* 7 */
      "    if a and b:\n"                                  /* 8 */
      "        for x in args:\n"                           /* 9 */
      "# a comment at column 0\n"                          /* 10 */
      "            if x:\n"                                /* 11 */
      "                return [y for y in x if y]\n"       /* 12 */
      "    return None\n"                                  /* 13 */
      "\n"                                                 /* 14 */
      "class K:\n"                                         /* 15 */
      "    def method(self, x, /, y, *, z):\n"             /* 16 */
      "        def inner(q):\n"                            /* 17 */
      "            return q or x\n"                        /* 18 */
      "        return inner(y)\n"                          /* 19 */
      "\n"                                                 /* 20 */
      "    async def am(cls):\n"                           /* 21 */
      "        pass\n"                                     /* 22 */
      "\n"                                                 /* 23 */
      "def one(x): return x if x else 0\n"                 /* 24 */
      "\n"                                                 /* 25 */
      "def cont(a,\n"                                      /* 26 */
      "         b,\n"                                      /* 27 */
      "         c) -> int:\n"                              /* 28 */
      "    try:\n"                                         /* 29 */
      "        pass\n"                                     /* 30 */
      "    except ValueError:\n"                           /* 31 */
      "        pass\n"                                     /* 32 */
      "\n",                                                /* 33 */
      "top:4-13 p4 c7 n3 | method:16-19 p3 c1 n1 | inner:17-18 p1 c2 n0 | "
      "am:21-22 p0 c1 n0 | one:24-24 p1 c2 n0 | cont:26-32 p3 c2 n1");
}

/* ---- keyword family ---- */

Test(metrics, ruby_defs_blocks_modifiers_and_endless_defs)
{
  expect_functions("ruby",
      "class Foo < Bar\n"                      /* 1 */
      "  def initialize(a, b)\n"               /* 2 */
      "    @b = b if b\n"                      /* 3 */
      "  end\n"                                /* 4 */
      "  def each_item\n"                      /* 5 */
      "    @items.each do |i|\n"               /* 6 */
      "      yield i unless i.nil?\n"          /* 7 */
      "    end\n"                              /* 8 */
      "  end\n"                                /* 9 */
      "  def self.build a, b\n"                /* 10 */
      "    x = if a then 1 else 2 end\n"       /* 11 */
      "    while x > 0 do\n"                   /* 12 */
      "      x -= 1\n"                         /* 13 */
      "    end\n"                              /* 14 */
      "    case a\n"                           /* 15 */
      "    when 1 then :one\n"                 /* 16 */
      "    when 2 then :two\n"                 /* 17 */
      "    end\n"                              /* 18 */
      "    begin\n"                            /* 19 */
      "      risky\n"                          /* 20 */
      "    rescue StandardError => e\n"        /* 21 */
      "      log e, if: :end\n"                /* 22 */
      "    end\n"                              /* 23 */
      "  end\n"                                /* 24 */
      "  def short(x) = x * 2\n"               /* 25 */
      "end\n",                                 /* 26 */
      "initialize:2-4 p2 c2 n0 | each_item:5-9 p0 c2 n1 | "
      "self.build:10-24 p2 c6 n1 | short:25-25 p1 c1 n0");
}

Test(metrics, lua_functions_local_anonymous_and_repeat_until)
{
  expect_functions("lua",
      "local M = {}\n"                                                     /* 1 */
      "function M.add(a, b)\n"                                             /* 2 */
      "  if a > b then return a end\n"                                     /* 3 */
      "  for i = 1, 10 do\n"                                               /* 4 */
      "    a = a + i\n"                                                    /* 5 */
      "  end\n"                                                            /* 6 */
      "  return a and b or 0\n"                                            /* 7 */
      "end\n"                                                              /* 8 */
      "local f = function(x)\n"                                            /* 9 */
      "  repeat x = x - 1 until x < 0\n"                                   /* 10 */
      "  return x\n"                                                       /* 11 */
      "end\n"                                                              /* 12 */
      "function obj:method(a, b, c) while a do a = nil end end\n"          /* 13 */
      "return M\n",                                                        /* 14 */
      "M.add:2-8 p2 c5 n1 | f:9-12 p1 c1 n1 | obj:method:13-13 p3 c2 n1");
}

Test(metrics, shell_functions_conditionals_loops_and_case_arms)
{
  expect_functions("shell",
      "#!/bin/sh\n"                                    /* 1 */
      "usage() {\n"                                    /* 2 */
      "  echo \"usage: end\"\n"                        /* 3 */
      "}\n"                                            /* 4 */
      "function build {\n"                             /* 5 */
      "  if [ -f x ]; then\n"                          /* 6 */
      "    for f in *.c; do\n"                         /* 7 */
      "      cc -c \"$f\" || exit 1\n"                 /* 8 */
      "    done\n"                                     /* 9 */
      "  elif [ -d y ]; then\n"                        /* 10 */
      "    echo ${HOME} end\n"                         /* 11 */
      "  fi\n"                                         /* 12 */
      "  case \"$1\" in\n"                             /* 13 */
      "    a) echo a ;;\n"                             /* 14 */
      "    b) echo b ;;\n"                             /* 15 */
      "  esac\n"                                       /* 16 */
      "}\n"                                            /* 17 */
      "main() {\n"                                     /* 18 */
      "  while read -r line\n"                         /* 19 */
      "  do\n"                                         /* 20 */
      "    echo \"$line\"\n"                           /* 21 */
      "  done < file\n"                                /* 22 */
      "}\n"                                            /* 23 */
      "main \"$@\"\n",                                 /* 24 */
      "usage:2-4 p0 c1 n0 | build:5-17 p0 c7 n2 | main:18-23 p0 c2 n1");
}

Test(metrics, elixir_def_do_blocks_and_one_liners)
{
  expect_functions("elixir",
      "defmodule Foo do\n"                    /* 1 */
      "  def add(a, b) do\n"                  /* 2 */
      "    if a > b do\n"                     /* 3 */
      "      a\n"                             /* 4 */
      "    else\n"                            /* 5 */
      "      b\n"                             /* 6 */
      "    end\n"                             /* 7 */
      "  end\n"                               /* 8 */
      "  defp short(x), do: x\n"              /* 9 */
      "  def run do\n"                        /* 10 */
      "    :ok\n"                             /* 11 */
      "  end\n"                               /* 12 */
      "end\n",                                /* 13 */
      "add:2-8 p2 c2 n1 | short:9-9 p1 c1 n0 | run:10-12 p0 c1 n0");
}

/* ---- robustness ---- */

Test(metrics, unbalanced_input_ends_open_functions_at_the_last_line)
{
  /* hand-blanked inputs: no lexer needed */
  fn_list_t l;
  memset(&l, 0, sizeof l);
  const char *src = "}\n}\nvoid f(int a) {\n  if (a) {\n    a++;\n";
  cr_assert_eq(scan_functions(SCAN_FAMILY_BRACE, src, strlen(src), collect, &l), 1);
  cr_assert_str_eq(l.v[0].row, "f:3-5 p1 c2 n1");
  memset(&l, 0, sizeof l);
  const char *py = "def f(a,\n      b";
  cr_assert_eq(scan_functions(SCAN_FAMILY_INDENT, py, strlen(py), collect, &l), 0);
  /* a bracket still open at the end: the function ends on its last line
   * with text, not past the final newline (found by fuzz_secrets) */
  memset(&l, 0, sizeof l);
  const char *open = "def f(a):\n    return [x\n";
  cr_assert_eq(scan_functions(SCAN_FAMILY_INDENT, open, strlen(open), collect, &l), 1);
  cr_assert_str_eq(l.v[0].row, "f:1-2 p1 c1 n0");
}

Test(metrics, a_long_function_is_measured_to_its_closing_brace)
{
  size_t cap = 200 * 32;
  char *src = calloc(1, cap);
  strcat(src, "int long_one(void)\n{\n");
  for (int i = 0; i < 150; i++)
    strcat(src, "  if (x) y++;\n");
  strcat(src, "}\n");
  fn_list_t l;
  memset(&l, 0, sizeof l);
  scan_functions(SCAN_FAMILY_BRACE, src, strlen(src), collect, &l);
  cr_assert_eq(l.n, 1);
  cr_assert_str_eq(l.v[0].row, "long_one:1-153 p0 c151 n0");
  free(src);
}

Test(metrics, the_callback_can_stop_and_bad_arguments_are_refused)
{
  const char *src = "void a(void) {}\nvoid b(void) {}\nvoid c(void) {}\n";
  fn_list_t l;
  memset(&l, 0, sizeof l);
  l.stop_after = 2;
  cr_assert_eq(scan_functions(SCAN_FAMILY_BRACE, src, strlen(src), collect, &l), 2);
  cr_assert_eq(l.n, 2);
  cr_assert_eq(scan_functions(SCAN_FAMILY_BRACE, NULL, 3, collect, &l), -1);
  cr_assert_eq(scan_functions(SCAN_FAMILY_BRACE, NULL, 0, collect, &l), 0);
  cr_assert_eq(scan_functions(SCAN_FAMILY_NONE, src, strlen(src), collect, &l), 0);
  cr_assert_eq(scan_functions(SCAN_FAMILY_KEYWORD, "", 0, NULL, NULL), 0);
}

/* ---- thresholds ---- */

Test(metrics, default_thresholds_are_documented_values)
{
  scan_thresholds_t t = scan_thresholds_default();
  cr_assert_eq(t.max_function_lines, 80);
  cr_assert_eq(t.max_nesting, 4);
  cr_assert_eq(t.max_complexity, 15);
  cr_assert_eq(t.max_params, 6);
  cr_assert_eq(t.max_file_lines, 1000);
}

Test(metrics, breaks_says_which_limits_and_by_how_much)
{
  scan_thresholds_t t = scan_thresholds_default();
  scan_function_t f = {.name = "f", .name_len = 1, .line = 10, .end_line = 151,
                       .lines = 142, .nesting = 4, .complexity = 23, .params = 7};
  char why[128];
  unsigned mask = scan_function_breaks(&t, &f, why, sizeof why);
  cr_assert_eq(mask, SCAN_BREAKS_LINES | SCAN_BREAKS_COMPLEXITY | SCAN_BREAKS_PARAMS);
  cr_assert_str_eq(why, "142 lines > 80; complexity 23 > 15; 7 params > 6");
  f.nesting = 5;
  f.lines = 80;
  f.complexity = 15;
  f.params = 6;
  cr_assert_eq(scan_function_breaks(&t, &f, why, sizeof why), SCAN_BREAKS_NESTING);
  cr_assert_str_eq(why, "nesting 5 > 4");
  f.nesting = 4;
  cr_assert_eq(scan_function_breaks(&t, &f, why, sizeof why), 0, "at a limit is within it");
  cr_assert_str_eq(why, "");
  cr_assert_eq(scan_function_breaks(&t, &f, NULL, 0), 0);
}

Test(metrics, zero_disables_a_limit_and_text_is_truncated_safely)
{
  scan_thresholds_t t = {0};
  scan_function_t f = {.lines = 5000, .nesting = 50, .complexity = 500, .params = 50};
  char why[8];
  cr_assert_eq(scan_function_breaks(&t, &f, why, sizeof why), 0);
  t = scan_thresholds_default();
  memset(why, 'x', sizeof why);
  cr_assert_eq(scan_function_breaks(&t, &f, why, sizeof why), 0x0f);
  cr_assert_eq(strlen(why), sizeof why - 1);
  cr_assert_eq(scan_file_breaks(&t, 1000, why, sizeof why), 0);
  char big[64];
  cr_assert_eq(scan_file_breaks(&t, 1204, big, sizeof big), SCAN_BREAKS_FILE_LINES);
  cr_assert_str_eq(big, "1204 lines > 1000");
}

Test(metrics, lines_are_counted_with_or_without_a_final_newline)
{
  cr_assert_eq(scan_count_lines("", 0), 0);
  cr_assert_eq(scan_count_lines("a", 1), 1);
  cr_assert_eq(scan_count_lines("a\n", 2), 1);
  cr_assert_eq(scan_count_lines("a\nb", 3), 2);
  cr_assert_eq(scan_count_lines("\n\n", 2), 2);
}
