#include "frazil/server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace frazil::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A blocking client socket with a receive timeout (a test that hangs fails).
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool Send(std::string_view s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }
  // Reads until the peer closes or nothing arrives for the receive timeout.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }
  // Reads one response framed by Content-Length ("" on timeout or close).
  std::string ReadResponse() {
    for (;;) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t cl = buffer_.find("Content-Length: ");
        size_t len = cl < end ? std::stoul(buffer_.substr(cl + 16)) : 0;
        if (buffer_.size() >= end + 4 + len) {
          std::string r = buffer_.substr(0, end + 4 + len);
          buffer_.erase(0, end + 4 + len);
          return r;
        }
      }
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      buffer_.append(buf, size_t(n));
    }
  }
  // True if the server closed the connection (EOF or reset) within `wait`.
  bool ClosedWithin(std::chrono::milliseconds wait) {
    auto deadline = Clock::now() + wait;
    char buf[4096];
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return true;
        buffer_.append(buf, size_t(n));
      }
    }
    return false;
  }
  const std::string& buffered() const { return buffer_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Get("/healthz", [] { return HttpResponse{200, "application/json", "{\"status\":\"ok\"}\n"}; });
    server_->Get(std::string("/items/([^/]+)/([^/]+)"), [](const std::vector<std::string>& g) {
      return HttpResponse{200, "text/plain", g.at(0) + "|" + g.at(1)};
    });
    server_->Delete(std::string("/items/([^/]+)/([^/]+)"), [](const std::vector<std::string>& g) {
      return HttpResponse{200, "text/plain", "deleted " + g.at(1)};
    });
    server_->Put(std::string("/items/([^/]+)/([^/]+)"), [](const std::vector<std::string>& g) {
      return HttpResponse{200, "text/plain", "put " + g.at(1) + " query [" + g.at(2) + "]"};
    });
    ASSERT_TRUE(server_->Start({"127.0.0.1", 0}).ok());
    ASSERT_NE(server_->port(), 0);
  }
  std::string Get(const std::string& path) {
    Client c(server_->port());
    c.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return c.ReadAll();
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, AnswersRoutesWithStatusCodes) {
  Start();
  std::string r = Get("/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 16\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n{\"status\":\"ok\"}\n"), std::string::npos) << r;
  r = Get("/items/a%20b/c?query=1");  // decoded path, query ignored
  EXPECT_NE(r.find("\r\n\r\na b|c"), std::string::npos) << r;
  EXPECT_EQ(Get("/nothing").rfind("HTTP/1.1 404 ", 0), 0u);
  Client del(server_->port());
  del.Send("DELETE /items/x/y HTTP/1.1\r\n\r\n");
  r = del.ReadResponse();
  EXPECT_NE(r.find("deleted y"), std::string::npos) << r;
  // PUT handlers get the query string as sent, after the capture groups.
  Client put(server_->port());
  put.Send("PUT /items/x/y?partitions=3&dispatch=reliable HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  r = put.ReadResponse();
  EXPECT_NE(r.find("put y query [partitions=3&dispatch=reliable]"), std::string::npos) << r;
  Client put_plain(server_->port());
  put_plain.Send("PUT /items/x/z HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  r = put_plain.ReadResponse();
  EXPECT_NE(r.find("put z query []"), std::string::npos) << r;
  Client post(server_->port());
  post.Send("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  r = post.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 405 ", 0), 0u) << r;
  EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos) << r;
  // HEAD: the headers of GET, no body.
  Client head(server_->port());
  head.Send("HEAD /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  r = head.ReadAll();
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 16\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n") << r;
  Client garbage(server_->port());
  garbage.Send("NONSENSE\r\n\r\n");
  EXPECT_EQ(garbage.ReadAll().rfind("HTTP/1.1 400 ", 0), 0u);
}

TEST_F(HttpServerTest, AnswersWhileManyConnectionsSitIdle) {
  Start();
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  // Half of them keep-alive after a request, some with a half-sent request.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(idle[i]->Send("GET /healthz HTTP/1.1\r\n\r\n"));
    ASSERT_NE(idle[i]->ReadResponse(), "");
  }
  for (int i = 100; i < 150; ++i) ASSERT_TRUE(idle[i]->Send("GET /healthz HTTP/1.1\r\nHost:"));
  std::string r = Get("/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  // The idle ones are all still open (the answered one may still linger).
  EXPECT_GE(server_->Stats().connections, 200u);
  EXPECT_LE(server_->Stats().connections, 201u);
}

TEST_F(HttpServerTest, SlowSenderIsCutOffAtTheRequestDeadline) {
  HttpServerOptions o;
  o.request_timeout = 2000ms;
  o.idle_timeout = 60000ms;  // only the request deadline may close it
  Start(o);
  Client slow(server_->port());
  std::string request = "GET /healthz HTTP/1.1\r\nHost: example\r\nX-Padding: aaaaaaaaaaaaaaa\r\n\r\n";
  auto start = Clock::now();
  size_t sent = 0;
  bool closed = false;
  // One byte a second: the whole request would take over a minute.
  while (sent < request.size()) {
    if (!slow.Send(request.substr(sent, 1))) {
      closed = true;
      break;
    }
    ++sent;
    if (slow.ClosedWithin(1000ms)) {
      closed = true;
      break;
    }
  }
  auto took = Clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_LT(sent, request.size());
  // Closed at the deadline, not after the whole request (generous bound).
  EXPECT_LT(took, 10s);
  EXPECT_EQ(slow.buffered().rfind("HTTP/1.1 408 ", 0), 0u) << slow.buffered();
  EXPECT_GE(server_->Stats().timed_out, 1u);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions o;
  o.idle_timeout = 300ms;
  Start(o);
  Client c(server_->port());
  c.Send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_NE(c.ReadResponse(), "");
  EXPECT_TRUE(c.ClosedWithin(5000ms));
  Client never(server_->port());  // connects and sends nothing
  EXPECT_TRUE(never.ClosedWithin(5000ms));
}

TEST_F(HttpServerTest, OversizedHeaderIs431AndBodyOverLimitIs413) {
  HttpServerOptions o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 100;
  Start(o);
  Client big(server_->port());
  big.Send("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  std::string r = big.ReadAll();
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r;
  // Headers still arriving, already over the limit, without an end.
  Client endless(server_->port());
  endless.Send("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(5000, 'a'));
  r = endless.ReadAll();
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r;
  Client body(server_->port());
  body.Send("DELETE /items/a/b HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  r = body.ReadAll();
  EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
  // Within the limit: the body is framed and skipped, the next request served.
  Client ok(server_->port());
  ok.Send("DELETE /items/a/b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_NE(ok.ReadResponse().find("deleted b"), std::string::npos);
  EXPECT_NE(ok.ReadResponse().find("\"ok\""), std::string::npos);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  Client c(server_->port());
  c.Send(
      "GET /items/1/a HTTP/1.1\r\n\r\n"
      "GET /missing HTTP/1.1\r\n\r\n"
      "HEAD /healthz HTTP/1.1\r\n\r\n"
      "GET /items/2/b HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string all = c.ReadAll();  // the last one closes the connection
  size_t a = all.find("1|a"), missing = all.find("404 Not Found"), b = all.find("2|b");
  ASSERT_NE(a, std::string::npos) << all;
  ASSERT_NE(missing, std::string::npos) << all;
  ASSERT_NE(b, std::string::npos) << all;
  EXPECT_LT(a, missing);
  EXPECT_LT(missing, b);
  size_t responses = 0;
  for (size_t p = all.find("HTTP/1.1 "); p != std::string::npos; p = all.find("HTTP/1.1 ", p + 1))
    ++responses;
  EXPECT_EQ(responses, 4u) << all;
  EXPECT_NE(all.find("Connection: close\r\n\r\n2|b"), std::string::npos) << all;
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503) {
  HttpServerOptions o;
  o.max_connections = 4;
  Start(o);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Client>(server_->port()));
    held.back()->Send("GET /healthz HTTP/1.1\r\n\r\n");
    ASSERT_NE(held.back()->ReadResponse(), "");  // accepted and counted
  }
  Client extra(server_->port());
  std::string r = extra.ReadAll();
  EXPECT_EQ(r.rfind("HTTP/1.1 503 ", 0), 0u) << r;
  EXPECT_EQ(server_->Stats().rejected, 1u);
  held.pop_back();  // a place frees up
  for (int i = 0; i < 100 && server_->Stats().connections >= 4; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(Get("/healthz").rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST(HttpServerHandlers, SlowHandlerDoesNotBlockTheLoop) {
  HttpServer server;
  std::atomic<bool> release{false};
  server.Get("/slow", [&] {
    while (!release) std::this_thread::sleep_for(1ms);
    return HttpResponse{200, "text/plain", "slow"};
  });
  server.Get("/fast", [] { return HttpResponse{200, "text/plain", "fast"}; });
  ASSERT_TRUE(server.Start({"127.0.0.1", 0}).ok());
  Client slow(server.port());
  slow.Send("GET /slow HTTP/1.1\r\n\r\n");
  Client fast(server.port());
  fast.Send("GET /fast HTTP/1.1\r\n\r\n");
  // The fast answer comes while the slow handler still waits.
  std::string r = fast.ReadResponse();
  EXPECT_NE(r.find("fast"), std::string::npos) << r;
  release = true;
  EXPECT_NE(slow.ReadResponse().find("slow"), std::string::npos);
  server.Stop();
}

TEST(HttpServerStart, PortInUseIsAnError) {
  HttpServer a;
  ASSERT_TRUE(a.Start({"127.0.0.1", 0}).ok());
  HttpServer b;
  Status st = b.Start({"127.0.0.1", a.port()});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
}

}  // namespace
}  // namespace frazil::server
