// Minimal one-line structured (logfmt) logging to stderr for the server binary
// and library.
#ifndef EDLAE_SERVER_LOG_H_
#define EDLAE_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace edlae::server {

enum class LogLevel { kInfo, kWarning, kError };

// One key=value pair of a log line. A value is written in double quotes, with
// quote and backslash escaped, when it is empty or holds a space, quote,
// backslash, '=' or control character.
using LogField = std::pair<std::string_view, std::string>;

// Formats `ts=<RFC 3339 UTC> level=<level> event=<event> k=v ...` (no newline).
std::string FormatLogLine(LogLevel level, std::string_view event,
                          std::initializer_list<LogField> fields);

// Writes FormatLogLine(...) plus '\n' to stderr with a single write, so lines
// from different threads never interleave. Thread-safe.
void LogEvent(LogLevel level, std::string_view event,
              std::initializer_list<LogField> fields = {});

}  // namespace edlae::server

#endif  // EDLAE_SERVER_LOG_H_
