// The operator's HTTP endpoint (--http): /healthz now, /metrics and admin later.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/server/config.h"

namespace httplib {
class Server;
}

namespace frazil::server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();

  // Registers a GET handler; call before Start.
  void Get(const std::string& path, std::function<HttpResponse()> handler);
  // Handlers for a path regex; `groups` are its capture groups.
  using PatternHandler = std::function<HttpResponse(const std::vector<std::string>& groups)>;
  void Get(const std::string& pattern, PatternHandler handler);
  void Delete(const std::string& pattern, PatternHandler handler);

  // Binds and starts serving on a background thread.
  Status Start(const HostPort& address);
  void Stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace frazil::server
