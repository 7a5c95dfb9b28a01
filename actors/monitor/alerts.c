/*
 * alerts.c: alert rules (cfg_alert_t: metric op threshold for).
 *
 * A rule is evaluated once per sample. When its condition starts to hold
 * the time is noted; it fires once it has held for `for` (at once when 0)
 * and resolves at the first sample where it no longer holds. Each firing
 * and each resolution is reported exactly once; an unknown value (NAN)
 * leaves the rule as it was.
 */
#include "actors/monitor/monitor_int.h"
#include "protocol/proto.h"

mon_transition_t mon__alert_eval(const cfg_alert_t *rule,
                                 mon_alert_state_t *st, double value,
                                 int64_t now_ms)
{
  if (isnan(value))
    return MON_ALERT_NONE;
  st->value = value;
  bool holds = cfg_op_holds(rule->op, value, rule->threshold);
  if (!holds) {
    st->holding = false;
    if (!st->firing)
      return MON_ALERT_NONE;
    st->firing = false;
    return MON_ALERT_RESOLVED;
  }
  if (!st->holding) {
    st->holding = true;
    st->since = now_ms;
  }
  if (st->firing || now_ms - st->since < (int64_t)rule->for_ms)
    return MON_ALERT_NONE;
  st->firing = true;
  return MON_ALERT_FIRED;
}

json_t *mon__alert_json(const cfg_alert_t *rule, mon_transition_t t,
                        double value, int64_t now_ms)
{
  bool fired = t == MON_ALERT_FIRED;
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s %s %g (value %g)%s", rule->name,
           cfg_metric_name(rule->metric), cfg_op_name(rule->op),
           rule->threshold, value, fired ? "" : ": resolved");
  proto_msg_t m = {.type = PROTO_ALERT};
  m.u.alert = (proto_alert_t){.rule = rule->name,
                              .severity = fired ? "warning" : "info",
                              .message = msg,
                              .value = value,
                              .threshold = rule->threshold,
                              .ts = now_ms};
  json_t *j = proto_json_encode(&m);
  if (!j)
    return NULL;
  json_object_set_new(j, "state", json_string(fired ? "firing" : "resolved"));
  json_object_set_new(j, "metric", json_string(cfg_metric_name(rule->metric)));
  json_object_set_new(j, "op", json_string(cfg_op_name(rule->op)));
  return j;
}
