// The CLI11 flag layer of the three binaries: spellings, help format,
// validators, parse-error exit statuses.
#include "common/cli.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace edlae::cli {
namespace {

// Lists a flag by its first spelling (the footer gives the rule for the
// other), with its type, check and default, and ends with the spelling rule.
class Formatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt,
                               bool is_positional) const override {
    if (is_positional) return opt->get_name(true, false);
    std::string name;
    if (!opt->get_snames().empty()) name = "-" + opt->get_snames().front();
    if (!opt->get_lnames().empty()) {
      absl::StrAppend(&name, name.empty() ? "" : ",", "--",
                      opt->get_lnames().front());
    }
    return name;
  }
  // " INT (>= 1) [default: 5000]", " REQUIRED" when it has to be given.
  std::string make_option_opts(const CLI::Option* opt) const override {
    std::string out;
    if (opt->get_type_size() != 0) {
      const std::string type = opt->get_type_name();
      const size_t colon = type.find(':');
      if (colon != 0 && !type.empty()) {
        absl::StrAppend(&out, " ", type.substr(0, colon));
      }
      if (colon != std::string::npos) {
        absl::StrAppend(&out, " (", type.substr(colon + 1), ")");
      }
    }
    if (opt->get_required()) {
      absl::StrAppend(&out, " REQUIRED");
    } else if (!opt->get_default_str().empty()) {
      absl::StrAppend(&out, " [default: ", opt->get_default_str(), "]");
    }
    return out;
  }
  std::string make_footer(const CLI::App* app) const override {
    std::string footer = CLI::Formatter::make_footer(app);
    if (!app->get_options().empty()) {
      absl::StrAppend(&footer, footer.empty() ? "" : "\n",
                      "Flags may be written with '-' or '_' between words "
                      "(--min-rating = --min_rating), the value after a space "
                      "or '='.\n");
    }
    return footer;
  }
};

// The program and its selected subcommands, "edlae-train train".
std::string CommandPath(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* p = command.get_parent(); p != nullptr;
       p = p->get_parent()) {
    path = absl::StrCat(p->get_name(), " ", path);
  }
  return path;
}

// `command`'s help, its usage line naming the whole path.
std::string Help(const CLI::App& command) {
  const CLI::App* parent = command.get_parent();
  return parent == nullptr ? command.help()
                           : command.help(CommandPath(*parent));
}

// The innermost subcommand that parsing reached (`app` when none).
const CLI::App& Selected(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return *at;
}

std::string FormatNumber(double x) { return absl::StrFormat("%g", x); }

// A validator of numbers: `ok` decides, `rule` is said when it does not hold.
CLI::Validator NumberRule(std::function<bool(double)> ok, std::string rule) {
  return CLI::Validator(
      [ok = std::move(ok), rule](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) ||
            !ok(value)) {
          return absl::StrCat("must be ", rule, ", got ", text);
        }
        return std::string();
      },
      rule);
}

}  // namespace

void Configure(CLI::App& app) {
  app.formatter(std::make_shared<Formatter>());
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  app.allow_extras(false);
  app.get_formatter()->column_width(34);
}

std::string Names(std::string_view names) {
  std::vector<std::string> out;
  for (absl::string_view name :
       absl::StrSplit(absl::string_view(names.data(), names.size()), ',')) {
    if (name.size() == 1) {
      out.push_back(absl::StrCat("-", name));
      continue;
    }
    out.push_back(absl::StrCat("--", name));
    for (const std::string& other : {absl::StrReplaceAll(name, {{"_", "-"}}),
                                     absl::StrReplaceAll(name, {{"-", "_"}})}) {
      if (other != name &&
          std::find(out.begin(), out.end(), "--" + other) == out.end()) {
        out.push_back("--" + other);
      }
    }
  }
  return absl::StrJoin(out, ",");
}

CLI::Option* AddFlag(CLI::App& app, std::string_view name, bool& value,
                     std::string description) {
  const std::string spellings = Names(name);
  std::string names = spellings;
  for (absl::string_view spelling : absl::StrSplit(spellings, ',')) {
    absl::StrAppend(&names, ",!--no", spelling.substr(2));
  }
  return app.add_flag(names, value, std::move(description))
      ->default_str(value ? "true" : "false");
}

CLI::Option* AddDuration(CLI::App& app, std::string_view name,
                         absl::Duration& value, std::string description) {
  CLI::Validator non_negative_duration(
      [](std::string& text) -> std::string {
        absl::Duration d;
        if (!absl::ParseDuration(text, &d)) {
          return absl::StrCat(
              "must be a duration such as 10s, 500ms or 1m30s, got '", text,
              "'");
        }
        if (d < absl::ZeroDuration()) {
          return absl::StrCat("must not be negative, got ", text);
        }
        return std::string();
      },
      ">= 0");
  CLI::Option* option = app.add_option_function<std::string>(
      Names(name),
      [&value](const std::string& text) {
        absl::ParseDuration(text, &value);  // checked above
      },
      std::move(description));
  option->type_name("DURATION")
      ->default_str(absl::FormatDuration(value))
      ->check(non_negative_duration);
  return option;
}

CLI::Validator AtLeast(double min) {
  return NumberRule([min](double x) { return x >= min; },
                    absl::StrCat(">= ", FormatNumber(min)));
}

CLI::Validator GreaterThan(double min) {
  return NumberRule([min](double x) { return x > min; },
                    absl::StrCat("> ", FormatNumber(min)));
}

CLI::Validator Between(double min, double max) {
  return NumberRule(
      [min, max](double x) { return x >= min && x <= max; },
      absl::StrCat("in [", FormatNumber(min), ", ", FormatNumber(max), "]"));
}

CLI::Validator AtLeastBelow(double min, double bound) {
  return NumberRule(
      [min, bound](double x) { return x >= min && x < bound; },
      absl::StrCat("in [", FormatNumber(min), ", ", FormatNumber(bound), ")"));
}

std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  // CLI11 reads "--name=" as a missing value and "-n=2" as "=2"; here they
  // mean "empty" and 2, as they did with absl flags (--metrics_address=
  // turns the metrics listener off).
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) {
    std::string_view arg = argv[i];
    const bool empty_long = arg.size() > 3 && arg.starts_with("--") &&
                            arg.find('=') == arg.size() - 1;
    const bool short_equals =
        arg.size() > 2 && arg[0] == '-' && arg[1] != '-' && arg[2] == '=';
    if (empty_long || short_equals) {
      const size_t eq = arg.find('=');
      args.push_back(std::string(arg.substr(eq + 1)));
      args.push_back(std::string(arg.substr(0, eq)));
    } else {
      args.push_back(std::string(arg));
    }
  }
  try {
    app.parse(std::move(args));  // CLI11 takes them in reverse order
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    std::fputs(Help(Selected(app)).c_str(), stdout);
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // An argument the command does not take is named first, even when a
    // required flag is missing too.
    const CLI::App& command = Selected(app);
    std::vector<std::string> extras = command.remaining();
    if (extras.empty()) extras = app.remaining(true);
    std::vector<std::string> flags;  // "--name" and "-x", not "-3"
    for (const std::string& a : extras) {
      if (a.size() > 1 && a[0] == '-' && !std::isdigit(a[1]) && a[1] != '.') {
        flags.push_back(a);
      }
    }
    if (!flags.empty()) {
      return UsageError(
          command, absl::StrCat("unknown flag", flags.size() > 1 ? "s " : " ",
                                absl::StrJoin(flags, ", "), " (not one of ",
                                CommandPath(command), "'s flags below)"));
    }
    if (!extras.empty()) {
      return UsageError(
          command, absl::StrCat("unexpected argument '", extras.front(), "'"));
    }
    return UsageError(command, e.what());
  }
}

int UsageError(const CLI::App& command, absl::string_view message) {
  std::fprintf(stderr, "%s: %.*s\n\n%s", CommandPath(command).c_str(),
               static_cast<int>(message.size()), message.data(),
               Help(command).c_str());
  return kExitUsage;
}

}  // namespace edlae::cli
