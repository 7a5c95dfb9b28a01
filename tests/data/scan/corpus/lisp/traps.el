; TODO: a lisp comment
(message "; FIXME: in a string")
