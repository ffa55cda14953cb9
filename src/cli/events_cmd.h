// `mercator events import FILE` backfills history from a file of events (NDJSON, one event
// per line, the API's form: event/event_service.h ParseEventJson) into the data directory's
// event log, with a progress bar and a per-line error report; by default all or nothing: a
// file with any bad line imports nothing. Imported events have the source "import": their ids
// must be unique across imports, and importing a file again adds nothing (duplicates).
// The event log is locked by a running server: stop it first (or send the events to
// POST /v1/events).
//
// `mercator events stats` prints the log's size.
#ifndef MERCATOR_CLI_EVENTS_CMD_H_
#define MERCATOR_CLI_EVENTS_CMD_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "event/event_service.h"
#include "server/app.h"

namespace mercator {

struct EventsCommand {
  CLI::App* events = nullptr;
  CLI::App* import = nullptr;
  CLI::App* stats = nullptr;
  std::string file;
  std::string report;
  bool skip_bad = false;
};

std::unique_ptr<EventsCommand> AddEventsCommands(CLI::App& cli);

// Opens the data directory's event log for a command (no server on it), with the lifecycle
// rules in force and no background thread.
absl::StatusOr<std::unique_ptr<event::EventService>> OpenEventLogForCommand(
    Engine& engine, const std::string& data_dir);
int RunEventsCommand(const EventsCommand& command, const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_CLI_EVENTS_CMD_H_
