// Starts the test S3 server (tests/s3server, built by
// scripts/setup-s3server.sh) or its fault-injecting proxy as a child
// process on a free loopback port, and stops it when destroyed.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace frazil::testing {

// The binary: $FRAZIL_S3SERVER_BIN, else where setup-s3server.sh puts it.
inline std::string S3ServerBinary() {
  const char* env = std::getenv("FRAZIL_S3SERVER_BIN");
  return env && *env ? env : FRAZIL_DEFAULT_S3SERVER_BIN;
}

class S3ServerProcess {
 public:
  // `args` after the binary; "--addr 127.0.0.1:0" is added. Empty
  // address() means it did not start (error() says why).
  explicit S3ServerProcess(std::vector<std::string> args) {
    std::string bin = S3ServerBinary();
    if (::access(bin.c_str(), X_OK) != 0) {
      error_ = "no S3 test server at " + bin + ": run scripts/setup-s3server.sh (or set FRAZIL_S3SERVER_BIN)";
      return;
    }
    args.insert(args.begin(), {bin, "--addr", "127.0.0.1:0"});
    int fds[2];
    if (::pipe(fds) != 0) {
      error_ = "pipe failed";
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      pid_ = -1;
      error_ = "posix_spawn " + bin + " failed";
      return;
    }
    // First line: "listening on 127.0.0.1:PORT".
    FILE* out = ::fdopen(fds[0], "r");
    char line[256] = {0};
    if (!std::fgets(line, sizeof(line), out)) {
      error_ = "S3 test server exited before listening";
    } else {
      std::string s(line);
      const std::string tag = "listening on ";
      if (s.starts_with(tag)) {
        address_ = s.substr(tag.size());
        while (!address_.empty() && (address_.back() == '\n' || address_.back() == '\r')) address_.pop_back();
      } else {
        error_ = "unexpected first line from the S3 test server: " + s;
      }
    }
    std::fclose(out);  // the server ignores a closed stdout afterwards
  }
  ~S3ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  S3ServerProcess(const S3ServerProcess&) = delete;
  S3ServerProcess& operator=(const S3ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  std::string endpoint() const { return "http://" + address_; }
  const std::string& error() const { return error_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
  std::string error_;
};

}  // namespace frazil::testing
