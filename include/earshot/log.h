/*
 * log: one JSON object per line on stderr:
 *   {"ts":"2026-11-22T10:00:00Z","level":"warn","mod":"feed","msg":"..."}
 * Messages are escaped, so attacker-controlled text cannot forge a line.
 */
#ifndef ES_LOG_H
#define ES_LOG_H

enum es_log_level { ES_LOG_DEBUG, ES_LOG_INFO, ES_LOG_WARN, ES_LOG_ERROR };

void es_log_set_level(enum es_log_level l);
void es_log(enum es_log_level l, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
