// Each subcommand lives in its own file and registers itself on the CLI11 app. A registered callback returns the
// process exit code through `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

namespace verbatim::cli {

void register_generate(CLI::App& app, int& exit_code);
void register_tokenize(CLI::App& app, int& exit_code);
void register_synth(CLI::App& app, int& exit_code);
void register_serve(CLI::App& app, int& exit_code);
void register_replay(CLI::App& app, int& exit_code);
void register_chat_template(CLI::App& app, int& exit_code);
void register_demo(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);

}  // namespace verbatim::cli
