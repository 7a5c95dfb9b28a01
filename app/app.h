/*
 * app.h: shared bits of the ccm command (app/ only).
 */
#ifndef APP_APP_H
#define APP_APP_H

enum { APP_EXIT_OK = 0, APP_EXIT_FAIL = 1, APP_EXIT_USAGE = 2 };

/* Print "ccm: <what> '<arg>'" and a hint; returns APP_EXIT_USAGE. */
int app_usage_error(const char *what, const char *arg);

int app_cmd_tasks(int argc, char **argv);
int app_cmd_show(int argc, char **argv);
int app_cmd_status(int argc, char **argv);
int app_cmd_scan(int argc, char **argv);

#endif /* APP_APP_H */
