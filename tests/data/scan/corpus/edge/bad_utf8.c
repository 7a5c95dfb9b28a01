// TODO: bytes ÿþ that are not UTF-8
int y;
