// A fault-injecting HTTP proxy for the Glue tests: forwards each request to
// moto, except that a chosen Glue operation (by X-Amz-Target) can be
// answered with a Glue error without forwarding, or forwarded and its answer
// replaced by a 500 (the call happened, the caller cannot know). moto
// ignores the Host in the signature, so forwarding needs no re-signing.
// One connection at a time, each closed after its answer.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <string>
#include <thread>

#include "frazil/net/http_client.h"

namespace frazil::testing {

class GlueFaultProxy {
 public:
  enum class Fault { kNone, kConflict, kForwardThen500, kAnswer500, kThrottle, kForwardThenDrop };

  explicit GlueFaultProxy(std::string upstream) : upstream_(std::move(upstream)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~GlueFaultProxy() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The next `count` calls of `op` ("UpdateTable") get `fault`.
  void Inject(const std::string& op, Fault fault, int count = 1) {
    std::lock_guard lock(mu_);
    op_ = op;
    fault_ = fault;
    remaining_ = count;
  }
  int faults_injected() const { return injected_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      Handle(c);
      ::close(c);
    }
  }

  void Handle(int c) {
    std::string data;
    char buf[65536];
    size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
    }
    std::string head = data.substr(0, header_end);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    size_t content_length = 0;
    if (size_t p = lower.find("\r\ncontent-length:"); p != std::string::npos)
      content_length = std::stoul(head.substr(p + 17));
    std::string body = data.substr(header_end + 4);
    while (body.size() < content_length) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      body.append(buf, static_cast<size_t>(n));
    }
    net::HttpRequest req;
    req.method = "POST";
    req.url = upstream_ + "/";
    std::string target;
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2);
      pos = next;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      std::string lname = name;
      std::transform(lname.begin(), lname.end(), lname.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      if (lname == "x-amz-target") target = value;
      if (lname == "host" || lname == "content-length" || lname == "connection" || lname == "expect")
        continue;
      req.headers.emplace_back(name, value);
    }
    req.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());

    Fault fault = Fault::kNone;
    std::unique_lock lock(mu_);
    if (target == "AWSGlue." + op_ && remaining_ > 0) {
      --remaining_;
      ++injected_;
      fault = fault_;
    }
    lock.unlock();
    if (fault == Fault::kConflict) {
      Answer(c, 400, R"({"__type":"ConcurrentModificationException","message":"injected"})");
      return;
    }
    if (fault == Fault::kThrottle) {
      Answer(c, 400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})");
      return;
    }
    if (fault == Fault::kAnswer500) {
      Answer(c, 500, R"({"__type":"InternalServiceException","message":"injected, not forwarded"})");
      return;
    }
    auto resp = client_.Send(req);
    if (!resp.ok()) {
      Answer(c, 502, "{}");
      return;
    }
    if (fault == Fault::kForwardThenDrop) return;  // closed without an answer
    if (fault == Fault::kForwardThen500) {
      Answer(c, 500, R"({"__type":"InternalServiceException","message":"injected after forwarding"})");
      return;
    }
    Answer(c, resp->status, resp->BodyText());
  }

  static void Answer(int c, long status, const std::string& body) {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/x-amz-json-1.1\r\n" +
        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  std::string upstream_;
  net::HttpClient client_{net::HttpClientOptions{}};
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // Set by the test between calls, read by the proxy thread.
  std::mutex mu_;
  std::string op_;  // guarded by mu_
  std::atomic<Fault> fault_{Fault::kNone};
  std::atomic<int> remaining_{0};
  std::atomic<int> injected_{0};
};

}  // namespace frazil::testing
