// TODO: a CRLF line
int x;
// FIXME: another CRLF line
