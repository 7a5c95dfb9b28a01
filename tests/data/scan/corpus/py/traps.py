# TODO: a python comment
x = "# FIXME: not a comment, a string"
y = 'HACK: in single quotes'


def f():
    return 1  # OPTIMIZE: a trailing comment
