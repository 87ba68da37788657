// The operator's HTTP endpoint (--http): /healthz, /metrics and the admin API.
//
// A small HTTP/1.1 server of our own: one event-loop thread (epoll) owns
// every connection and does all socket I/O, so idle or slow clients cost a
// file descriptor and a few bytes, never a thread; handlers (which may do
// I/O: deleting a topic, reading stats) run on a small fixed executor and
// hand their response back to the loop. Limits (connections, idle time,
// time to send a request, header and body size) keep a misbehaving client
// from starving the others. See docs/metrics.md and config/frazil.yaml.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "frazil/common/executor.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/server/config.h"

namespace frazil::server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct HttpServerOptions {
  // Open connections beyond this are accepted, answered 503 and closed.
  size_t max_connections = 1024;
  // A keep-alive connection with no request under way is closed after this.
  std::chrono::milliseconds idle_timeout{5000};
  // From a request's first byte, the whole request (headers and body) must
  // arrive within this (slow senders are cut off); a response must also be
  // taken by the client within it.
  std::chrono::milliseconds request_timeout{10000};
  size_t max_header_bytes = 16 << 10;  // request line and headers; beyond: 431
  size_t max_body_bytes = 1 << 20;     // beyond: 413
  size_t handler_threads = 2;          // the executor that runs handlers
};

// Counters of the server itself, for /metrics.
struct HttpServerStats {
  uint64_t connections = 0;   // open now
  uint64_t accepted = 0;      // since start
  uint64_t rejected = 0;      // over max_connections, answered 503
  uint64_t timed_out = 0;     // closed for idle_timeout or request_timeout
  uint64_t requests = 0;      // responses sent (any status)
  uint64_t bad_requests = 0;  // answered 400, 405, 411, 413, 431, 501
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a GET (and HEAD) handler for an exact path; call before Start.
  void Get(const std::string& path, std::function<HttpResponse()> handler);
  // Handlers for a path regex (matched against the whole decoded path,
  // without the query); `groups` are its capture groups, then the query
  // string as sent (after '?', not decoded; empty without one).
  using PatternHandler = std::function<HttpResponse(const std::vector<std::string>& groups)>;
  void Get(const std::string& pattern, PatternHandler handler);
  void Delete(const std::string& pattern, PatternHandler handler);
  void Put(const std::string& pattern, PatternHandler handler);

  // Binds (port 0: any free port, see port()) and starts the event loop.
  Status Start(const HostPort& address);
  // Closes the listener and every connection, then waits for handlers
  // under way. Idempotent.
  void Stop();

  uint16_t port() const { return bound_port_; }
  const Executor* executor() const { return &executor_; }
  HttpServerStats Stats() const;

 private:
  struct Route {
    std::string method;  // GET, PUT or DELETE
    bool exact = false;
    std::string path;
    std::regex pattern;
    PatternHandler handler;
  };
  struct Connection;
  struct Request;
  struct Done {
    uint64_t conn_id;
    std::string bytes;  // the serialized response
    bool close;
  };

  void Loop();
  void AcceptAll();
  void Reject(int fd);
  void OnReadable(Connection& c);
  void OnWritable(Connection& c);
  // Parses and dispatches the next buffered request if complete.
  void ProcessInput(Connection& c);
  void Dispatch(Connection& c, Request req);
  void SendNow(Connection& c, std::string bytes, bool close);
  void FinishWrite(Connection& c);
  void Close(Connection& c);
  void SetInterest(Connection& c, uint32_t events);
  void SetDeadline(Connection& c, std::chrono::steady_clock::time_point when);
  void Sweep();
  void TakeCompleted() EXCLUDES(done_mu_);

  const HttpServerOptions options_;
  std::vector<Route> routes_;
  Executor executor_;

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;   // eventfd: completed responses, Stop
  int spare_fd_ = -1;  // given up to accept-and-close when out of descriptors
  uint16_t bound_port_ = 0;
  std::thread loop_;
  std::atomic<bool> stopping_{false};

  // Owned by the loop thread.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  // Closed this loop turn; freed at its end, so references stay valid.
  std::vector<std::unique_ptr<Connection>> closed_;
  uint64_t next_id_ = 2;  // 0: the listener, 1: the eventfd
  std::chrono::steady_clock::time_point next_sweep_;

  Mutex done_mu_;
  std::vector<Done> done_ GUARDED_BY(done_mu_);

  std::atomic<uint64_t> n_connections_{0}, n_accepted_{0}, n_rejected_{0}, n_timed_out_{0}, n_requests_{0},
      n_bad_{0};
};

// Reason phrase of a status code ("Not Found").
const char* HttpReason(int status);

}  // namespace frazil::server
