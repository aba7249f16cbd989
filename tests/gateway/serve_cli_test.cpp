// `strata serve` as a process: configuration errors, serving, SIGHUP reload, SIGTERM drain.

#include "gateway/harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

class ServeProcess {
public:
  explicit ServeProcess(std::vector<std::string> arguments) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    arguments.insert(arguments.begin(), STRATA_BINARY);
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, STRATA_BINARY, &actions, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " STRATA_BINARY);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    output_ = fdopen(pipe_fds[0], "r");
  }
  ~ServeProcess() {
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

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ServeCommand, AConfigurationMistakeIsOnePreciseLineAndExitCode2) {
  const auto path = write_file("bad.toml", "origin = \"http://127.0.0.1:1\"\n[[rules]]\npath = \"/a\"\nttl = \"soon\"\n");
  ServeProcess serve({"serve", "--config", path});
  const auto output = serve.rest();
  EXPECT_EQ(serve.wait(), 2);
  EXPECT_THAT(output, HasSubstr("bad.toml:4:"));
  EXPECT_THAT(output, HasSubstr("rules[0].ttl: \"soon\" is not a duration"));

  ServeProcess no_origin({"serve", "--listen", "127.0.0.1:0"});
  EXPECT_THAT(no_origin.rest(), HasSubstr("origin: set the API to cache"));
  EXPECT_EQ(no_origin.wait(), 2);
}

TEST(ServeCommand, ServesReloadsOnSighupAndDrainsOnSigterm) {
  TestOrigin origin([](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = "hello from " + request.target;
    return answer;
  });
  const std::string base = "listen = \"127.0.0.1:0\"\norigin = \"" + origin.url() + "\"\n";
  const auto path = write_file("serve.toml", base + "[[rules]]\npath = \"/items/{id}\"\nttl = \"60s\"\n");
  ServeProcess serve({"serve", "--config", path, "--threads", "2"});
  const auto banner = serve.line();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(banner, match, std::regex("listening on http://127.0.0.1:(\\d+)"))) << banner;
  const auto port = static_cast<std::uint16_t>(std::stoi(match[1]));
  EXPECT_THAT(banner, HasSubstr("L1 only"));

  EXPECT_EQ(http_get(port, "/items/1").header("x-cache"), "MISS");
  EXPECT_EQ(http_get(port, "/items/1").header("x-cache"), "HIT");
  EXPECT_EQ(http_get(port, "/health").status, 200U);

  // Reload: the rule now passes requests through; the running listener is untouched.
  write_file("serve.toml", base + "[[rules]]\npath = \"/items/{id}\"\ncache = false\n");
  serve.signal(SIGHUP);
  EXPECT_THAT(serve.line(), HasSubstr("configuration reloaded"));
  EXPECT_EQ(http_get(port, "/items/1").header("x-cache"), "BYPASS");

  // A broken file on SIGHUP is refused and the running configuration stays.
  write_file("serve.toml", base + "[[rules]]\npath = \"/items/{id\"\n");
  serve.signal(SIGHUP);
  EXPECT_THAT(serve.line(), HasSubstr("reload refused"));
  EXPECT_EQ(http_get(port, "/items/2").status, 200U);

  serve.signal(SIGTERM);
  const auto rest = serve.rest();
  EXPECT_EQ(serve.wait(), 0);
  EXPECT_THAT(rest, HasSubstr("stopped"));
  EXPECT_EQ(http_get(port, "/items/1", {}).status, 0U);  // nothing listens any more
}

}  // namespace
}  // namespace strata::testing
