// Starts moto (an AWS API emulator, PyPI `moto[server]`, installed into
// .venv by scripts/setup-venv.sh) as a child process on a free loopback
// port, and stops it when destroyed. moto answers every AWS service on one
// port and picks the service from the credential scope of the SigV4
// Authorization header, so unsigned requests do not reach Glue.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace frazil::testing {

// The binary: $FRAZIL_MOTO_SERVER_BIN, else .venv/bin/moto_server.
inline std::string MotoServerBinary() {
  const char* env = std::getenv("FRAZIL_MOTO_SERVER_BIN");
  return env && *env ? env : FRAZIL_DEFAULT_MOTO_SERVER_BIN;
}

class MotoServerProcess {
 public:
  // `extra_env`: "NAME=value" added to this process's environment (e.g.
  // INITIAL_NO_AUTH_ACTION_COUNT=0, which makes moto check credentials).
  // Empty endpoint() means it did not start (error() says why).
  explicit MotoServerProcess(std::vector<std::string> extra_env = {}) {
    std::string bin = MotoServerBinary();
    if (::access(bin.c_str(), X_OK) != 0) {
      error_ = "no moto_server at " + bin + ": run scripts/setup-venv.sh (or set FRAZIL_MOTO_SERVER_BIN)";
      return;
    }
    std::vector<std::string> args = {bin, "-H", "127.0.0.1", "-p", "0"};
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    for (auto& e : extra_env) env_strings.push_back(e);
    // Werkzeug prints " * Running on http://127.0.0.1:PORT" on stderr,
    // then a line per request: all of it goes to a log file we poll.
    char log_path[] = "/tmp/frazil-moto-XXXXXX";
    int log_fd = ::mkstemp(log_path);
    if (log_fd < 0) {
      error_ = "mkstemp failed";
      return;
    }
    log_path_ = log_path;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(log_fd);
    if (rc != 0) {
      pid_ = -1;
      error_ = "posix_spawn " + bin + " failed";
      return;
    }
    const std::string tag = "Running on http://";
    std::string seen;
    for (int i = 0; i < 600 && address_.empty(); ++i) {  // up to 30 s (a cold Python start)
      std::ifstream in(log_path_);
      std::stringstream ss;
      ss << in.rdbuf();
      seen = ss.str();
      size_t at = seen.find(tag);
      if (at != std::string::npos) {
        size_t end = seen.find_first_of("\r\n ", at + tag.size());
        if (end != std::string::npos) address_ = seen.substr(at + tag.size(), end - at - tag.size());
      }
      int st;
      if (address_.empty() && ::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      if (address_.empty()) ::usleep(50'000);
    }
    if (address_.empty()) error_ = "moto_server did not start listening: " + seen;
  }
  ~MotoServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    if (!log_path_.empty()) ::unlink(log_path_.c_str());
  }
  MotoServerProcess(const MotoServerProcess&) = delete;
  MotoServerProcess& operator=(const MotoServerProcess&) = delete;

  std::string endpoint() const { return address_.empty() ? "" : "http://" + address_; }
  const std::string& error() const { return error_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
  std::string error_;
  std::string log_path_;
};

}  // namespace frazil::testing
