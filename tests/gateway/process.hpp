#pragma once

// The `strata` executable as a child process, for tests of its commands: arguments and
// environment in, exit code and merged stdout/stderr out.

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <gtest/gtest.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace strata::testing {

class StrataProcess {
public:
  // `environment`: NAME=VALUE settings added to this process's own.
  // `program`: another executable than `strata` (its arguments then start with its own).
  explicit StrataProcess(std::vector<std::string> arguments, std::vector<std::string> environment = {},
                         const char* program = STRATA_BINARY) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    arguments.insert(arguments.begin(), program);
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& setting : environment) envp.push_back(setting.data());
    for (char** inherited = environ; *inherited != nullptr; ++inherited) envp.push_back(*inherited);
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, program, &actions, nullptr, argv.data(), envp.data()) != 0) {
      throw std::runtime_error(std::string("cannot start ") + program);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    output_ = fdopen(pipe_fds[0], "r");
  }
  ~StrataProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (output_ != nullptr) fclose(output_);
  }

  // The next line of output (blocking; the process is bounded by the test's own timeout).
  std::string line() {
    char buffer[4096];
    if (fgets(buffer, sizeof buffer, output_) == nullptr) return {};
    return buffer;
  }
  // Reads lines until one matches `pattern` (a regex), skipping the others (log lines of other
  // concerns); a test failure listing what was read when the output ends first.
  std::string await_line(const std::string& pattern) {
    const std::regex wanted(pattern);
    std::string seen;
    for (std::string next = line(); !next.empty(); next = line()) {
      if (std::regex_search(next, wanted)) return next;
      seen += next;
    }
    ADD_FAILURE() << "no line matching " << pattern << " in:\n" << seen;
    return {};
  }
  std::string rest() {
    std::string all;
    for (std::string next = line(); !next.empty(); next = line()) all += next;
    return all;
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void signal(int number) { kill(pid_, number); }

private:
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
};

// A file in the test's temporary directory, private to this process (CTest runs test processes
// side by side); writing the same name again replaces it.
inline std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "strata-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

// `strata serve` with a configuration whose listeners take free ports (127.0.0.1:0, and an
// admin.listen), as the ports it printed.
struct ServeProcess {
  std::unique_ptr<StrataProcess> process;
  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;
  std::string admin_url;  // http://127.0.0.1:PORT/api/cache

  std::string await_line(const std::string& pattern) { return process->await_line(pattern); }
  // SIGTERM: the gateway drains and exits 0.
  void stop() {
    process->signal(SIGTERM);
    const auto rest = process->rest();
    EXPECT_EQ(process->wait(), 0) << rest;
  }
};

inline ServeProcess start_serve(const std::string& config_name, const std::string& config) {
  ServeProcess serve;
  serve.process = std::make_unique<StrataProcess>(
      std::vector<std::string>{"serve", "--config", write_file(config_name, config)});
  std::smatch match;
  const auto listening = serve.await_line("listening on");
  EXPECT_TRUE(std::regex_search(listening, match, std::regex("http://127.0.0.1:(\\d+)"))) << listening;
  if (!match.empty()) serve.port = static_cast<std::uint16_t>(std::stoi(match[1]));
  const auto admin = serve.await_line("admin API on");
  EXPECT_TRUE(std::regex_search(admin, match, std::regex("(http://127.0.0.1:(\\d+)\\S*)"))) << admin;
  if (!match.empty()) {
    serve.admin_url = match[1];
    serve.admin_port = static_cast<std::uint16_t>(std::stoi(match[2]));
  }
  return serve;
}

}  // namespace strata::testing
