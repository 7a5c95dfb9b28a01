package main

// TODO: a go comment
var s = `FIXME: a raw string
// HACK: still in the raw string`
