// Starts Apache Iceberg's REST catalog server (the launcher
// scripts/setup-rest-catalog.sh writes) as a child process on a free
// loopback port with its own warehouse directory, waits until it answers
// GET /v1/config, and stops it when destroyed.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "frazil/net/http_client.h"

extern char** environ;

namespace frazil::testing {

inline std::string RestCatalogLauncher() {
  const char* env = std::getenv("FRAZIL_REST_CATALOG_BIN");
  return env && *env ? env : FRAZIL_DEFAULT_REST_CATALOG_BIN;
}

// A port nothing listens on right now (the kernel's pick for port 0).
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class RestCatalogServerProcess {
 public:
  explicit RestCatalogServerProcess(const std::string& warehouse_dir) {
    std::string bin = RestCatalogLauncher();
    if (::access(bin.c_str(), X_OK) != 0) {
      error_ = "no REST catalog server at " + bin +
               ": run scripts/setup-rest-catalog.sh (or set FRAZIL_REST_CATALOG_BIN)";
      return;
    }
    port_ = FreeLoopbackPort();
    std::vector<std::string> args = {bin, std::to_string(port_), warehouse_dir};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    // The server logs every request to stderr: keep it in a file beside the warehouse.
    std::string log = warehouse_dir + ".log";
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      error_ = "posix_spawn " + bin + " failed";
      return;
    }
    uri_ = "http://127.0.0.1:" + std::to_string(port_);
    net::HttpClient http(net::HttpClientOptions{.connect_timeout_ms = 1000, .request_timeout_ms = 5000});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      net::HttpRequest req;
      req.method = "GET";
      req.url = uri_ + "/v1/config";
      auto r = http.Send(req);
      if (r.ok() && r->status == 200) return;
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "the REST catalog server exited at start (see " + log + ")";
        uri_.clear();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    error_ = "the REST catalog server did not answer /v1/config within 90 s (see " + log + ")";
    uri_.clear();
  }
  ~RestCatalogServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  RestCatalogServerProcess(const RestCatalogServerProcess&) = delete;
  RestCatalogServerProcess& operator=(const RestCatalogServerProcess&) = delete;

  // Empty when it did not start (error() says why).
  const std::string& uri() const { return uri_; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  std::string uri_;
  std::string error_;
};

}  // namespace frazil::testing
