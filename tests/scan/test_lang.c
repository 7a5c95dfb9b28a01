/*
 * test_lang.c: the language table and detection of scan/lang.h.
 *
 * Contract checked: at least 60 languages, each with a unique lower-case
 * name found again by scan_lang_by_name, a non-empty opener list in which
 * no opener is shadowed by an earlier one that is its prefix, and a class
 * table that marks every opener's first byte; detection by file name,
 * name prefix, extension (exact case first, then any case; "x.in"), the
 * ".m" content rule, and the "#!" line (env, options, versions, CRLF);
 * unknown files give NULL.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "scan/lang.h"
#include "tests/scan/leaks.h"
#include "tests/scan/scan_test.h"

TestSuite(lang, .timeout = 30, .fini = scan_test_check_leaks);

Test(lang, at_least_sixty_languages)
{
  cr_assert_geq(scan_lang_count(), 60);
  cr_assert_null(scan_lang_at(scan_lang_count()));
}

Test(lang, names_are_unique_lower_case_and_found_again)
{
  size_t n = scan_lang_count();
  for (size_t i = 0; i < n; i++) {
    const struct scan_lang *l = scan_lang_at(i);
    cr_assert_not_null(l);
    for (const char *p = l->name; *p; p++)
      cr_assert(!(*p >= 'A' && *p <= 'Z'), "%s is lower case", l->name);
    cr_assert_eq(scan_lang_by_name(l->name), l, "%s", l->name);
    for (size_t j = i + 1; j < n; j++)
      cr_assert_str_neq(l->name, scan_lang_at(j)->name);
  }
  cr_assert_null(scan_lang_by_name("cobra"));
  cr_assert_null(scan_lang_by_name("C"));
  cr_assert_null(scan_lang_by_name(NULL));
}

/* An opener that is a proper prefix of a later one with the same first
 * byte would hide it: "--" before "--[" would make Lua long comments line
 * comments. Equal openers are allowed (context rules decide: Vim "). */
Test(lang, no_opener_hides_a_later_one)
{
  for (size_t i = 0; i < scan_lang_count(); i++) {
    const struct scan_lang *l = scan_lang_at(i);
    cr_assert_neq(l->toks[0].kind, SCAN_TK_END, "%s has openers", l->name);
    for (const scan_tok_t *a = l->toks; a->kind != SCAN_TK_END; a++) {
      size_t alen = strlen(a->open);
      cr_assert_gt(alen, 0);
      cr_assert(l->cls->cls[(unsigned char)a->open[0]], "%s: class of %s",
                l->name, a->open);
      for (const scan_tok_t *b = a + 1; b->kind != SCAN_TK_END; b++) {
        size_t blen = strlen(b->open);
        cr_assert(!(alen < blen && memcmp(a->open, b->open, alen) == 0),
                  "%s: %s hides %s", l->name, a->open, b->open);
      }
    }
  }
}

Test(lang, families_follow_the_syntax)
{
  cr_assert_eq(stst_lang("c")->family, SCAN_FAMILY_BRACE);
  cr_assert_eq(stst_lang("rust")->family, SCAN_FAMILY_BRACE);
  cr_assert_eq(stst_lang("python")->family, SCAN_FAMILY_INDENT);
  cr_assert_eq(stst_lang("ruby")->family, SCAN_FAMILY_KEYWORD);
  cr_assert_eq(stst_lang("shell")->family, SCAN_FAMILY_KEYWORD);
  cr_assert_eq(stst_lang("yaml")->family, SCAN_FAMILY_NONE);
  cr_assert_eq(stst_lang("markdown")->family, SCAN_FAMILY_NONE);
}

typedef struct {
  const char *path;
  const char *head; /* NULL: none */
  const char *want; /* NULL: unknown */
} detect_case_t;

static const detect_case_t detect_cases[] = {
    /* file names and name prefixes */
    {"Makefile", NULL, "make"},
    {"src/GNUmakefile", NULL, "make"},
    {"Makefile.am", NULL, "make"},
    {"Kbuild", NULL, "make"},
    {"Dockerfile", NULL, "dockerfile"},
    {"docker/Dockerfile.dev", NULL, "dockerfile"},
    {"CMakeLists.txt", NULL, "cmake"},
    {"init/Kconfig", NULL, "kconfig"},
    {"arch/x86/Kconfig.debug", NULL, "kconfig"},
    {"meson.build", NULL, "meson"},
    {"BUILD.bazel", NULL, "starlark"},
    {"Gemfile", NULL, "ruby"},
    {"Jenkinsfile", NULL, "groovy"},
    {".gitignore", NULL, "ignore-list"},
    {"home/.bashrc", NULL, "shell"},
    {".vimrc", NULL, "vim"},
    /* extensions; case as compilers see it */
    {"main.c", NULL, "c"},
    {"include/x.h", NULL, "c"},
    {"x.C", NULL, "cpp"},
    {"x.H", NULL, "cpp"},
    {"x.cc", NULL, "cpp"},
    {"x.hpp", NULL, "cpp"},
    {"x.PY", NULL, "python"},
    {"x.Bat", NULL, "batch"},
    {"x.CMD", NULL, "batch"},
    {"x.rs", NULL, "rust"},
    {"x.go", NULL, "go"},
    {"x.java", NULL, "java"},
    {"x.cs", NULL, "csharp"},
    {"x.js", NULL, "javascript"},
    {"x.mjs", NULL, "javascript"},
    {"x.jsx", NULL, "javascript"},
    {"x.ts", NULL, "typescript"},
    {"x.d.ts", NULL, "typescript"},
    {"x.tsx", NULL, "typescript"},
    {"x.swift", NULL, "swift"},
    {"x.kt", NULL, "kotlin"},
    {"x.scala", NULL, "scala"},
    {"x.dart", NULL, "dart"},
    {"x.d", NULL, "d"},
    {"x.zig", NULL, "zig"},
    {"x.php", NULL, "php"},
    {"x.rb", NULL, "ruby"},
    {"x.pl", NULL, "perl"},
    {"x.pm", NULL, "perl"},
    {"x.lua", NULL, "lua"},
    {"x.sql", NULL, "sql"},
    {"x.hs", NULL, "haskell"},
    {"x.ml", NULL, "ocaml"},
    {"x.fs", NULL, "fsharp"},
    {"x.pas", NULL, "pascal"},
    {"x.adb", NULL, "ada"},
    {"x.lisp", NULL, "lisp"},
    {"x.scm", NULL, "scheme"},
    {"x.rkt", NULL, "racket"},
    {"x.el", NULL, "emacs-lisp"},
    {"x.clj", NULL, "clojure"},
    {"x.erl", NULL, "erlang"},
    {"x.ex", NULL, "elixir"},
    {"x.tex", NULL, "tex"},
    {"x.vb", NULL, "visual-basic"},
    {"x.f90", NULL, "fortran"},
    {"x.f", NULL, "fortran-fixed"},
    {"x.ps1", NULL, "powershell"},
    {"x.vim", NULL, "vim"},
    {"x.yml", NULL, "yaml"},
    {"x.toml", NULL, "toml"},
    {"x.ini", NULL, "ini"},
    {"x.html", NULL, "html"},
    {"x.xml", NULL, "xml"},
    {"x.md", NULL, "markdown"},
    {"x.css", NULL, "css"},
    {"x.scss", NULL, "scss"},
    {"x.S", NULL, "assembly"},
    {"x.asm", NULL, "nasm"},
    {"x.dts", NULL, "devicetree"},
    {"x.tf", NULL, "hcl"},
    {"x.nix", NULL, "nix"},
    {"x.R", NULL, "r"},
    {"x.jl", NULL, "julia"},
    {"x.nim", NULL, "nim"},
    {"x.cr", NULL, "crystal"},
    {"x.json", NULL, "json"},
    {"x.proto", NULL, "protobuf"},
    {"x.sv", NULL, "verilog"},
    {"config.h.in", NULL, "c"},
    {"Makefile.in", NULL, "make"},
    /* .m: Objective-C unless the head looks like MATLAB */
    {"x.m", "#import <Foundation/Foundation.h>\n", "objective-c"},
    {"x.m", NULL, "objective-c"},
    {"x.m", "% compute\nfunction y = f(x)\n", "matlab"},
    {"x.m", "function y = f(x)\n", "matlab"},
    /* the extension wins over a #! line */
    {"x.py", "#!/bin/sh\n", "python"},
    /* #! lines */
    {"bin/tool", "#!/bin/sh\necho\n", "shell"},
    {"tool", "#! /bin/bash\r\n", "shell"},
    {"tool", "#!/usr/bin/env python3\n", "python"},
    {"tool", "#!/usr/bin/python3.11 -u\n", "python"},
    {"tool", "#!/usr/bin/env -S node --harmony\n", "javascript"},
    {"tool", "#!/usr/bin/env LC_ALL=C perl -w\n", "perl"},
    {"tool", "#!/usr/bin/perl -w\n", "perl"},
    {"tool", "#!/usr/bin/env ruby", "ruby"},
    {"tool.txt", "#!/bin/zsh\n", "shell"},
    {"tool", "#!/usr/bin/env lua5.4\n", "lua"},
    {"tool", "#!/usr/bin/env Rscript\n", "r"},
    /* unknown */
    {"README", NULL, NULL},
    {"notes.txt", NULL, NULL},
    {"tool", "#!/usr/bin/env\n", NULL},
    {"tool", "#!/opt/unknown-interp\n", NULL},
    {"tool", "echo hi\n", NULL},
    {".c", NULL, NULL},
    {"", NULL, NULL},
};

Test(lang, detection_table)
{
  for (size_t i = 0; i < sizeof detect_cases / sizeof detect_cases[0]; i++) {
    const detect_case_t *c = &detect_cases[i];
    const struct scan_lang *l = scan_lang_detect(
        c->path, c->head, c->head ? strlen(c->head) : 0);
    if (!c->want)
      cr_assert_null(l, "%s: %s, want unknown", c->path, l ? l->name : "");
    else
      cr_assert(l && strcmp(l->name, c->want) == 0, "%s (%s): %s, want %s",
                c->path, c->head ? c->head : "-", l ? l->name : "NULL",
                c->want);
  }
}

Test(lang, null_path_is_unknown)
{
  cr_assert_null(scan_lang_detect(NULL, "#!/bin/sh\n", 10));
}

Test(lang, head_need_not_be_terminated)
{
  char head[16];
  memcpy(head, "#!/bin/bashXXXXX", 16); /* 11 bytes mean "#!/bin/bash" */
  const struct scan_lang *l = scan_lang_detect("run", head, 11);
  cr_assert(l && strcmp(l->name, "shell") == 0);
  cr_assert_null(scan_lang_detect("run", head, 2));
}
