#include "frazil/server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

namespace frazil::server {

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {
  // httplib's default also sets SO_REUSEPORT, which lets a second broker bind
  // the same port and silently share it; a taken port must be an error.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Get(const std::string& path, std::function<HttpResponse()> handler) {
  server_->Get(path, [handler = std::move(handler)](const httplib::Request&, httplib::Response& res) {
    HttpResponse r = handler();
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  });
}

namespace {

httplib::Server::Handler Adapt(HttpServer::PatternHandler handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::string> groups;
    for (size_t i = 1; i < req.matches.size(); ++i) groups.push_back(req.matches[i].str());
    HttpResponse r = handler(groups);
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  };
}

}  // namespace

void HttpServer::Get(const std::string& pattern, PatternHandler handler) {
  server_->Get(pattern, Adapt(std::move(handler)));
}

void HttpServer::Delete(const std::string& pattern, PatternHandler handler) {
  server_->Delete(pattern, Adapt(std::move(handler)));
}

Status HttpServer::Start(const HostPort& address) {
  if (!server_->bind_to_port(address.host, address.port)) {
    return Status::Unavailable("cannot listen for HTTP on " + address.ToString() +
                               " (address in use or not local?)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace frazil::server
