// verbatim: command-line entry point. Every error reaching here is reported as one line and a non-zero exit.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"verbatim: batch-invariant LLM inference (the same request gives the same bits under any load)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "verbatim 0.1.0");
  int exit_code = 0;
  verbatim::cli::register_generate(app, exit_code);
  verbatim::cli::register_tokenize(app, exit_code);
  verbatim::cli::register_synth(app, exit_code);
  verbatim::cli::register_serve(app, exit_code);
  verbatim::cli::register_replay(app, exit_code);
  verbatim::cli::register_chat_template(app, exit_code);
  verbatim::cli::register_demo(app, exit_code);
  verbatim::cli::register_bench(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const verbatim::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
