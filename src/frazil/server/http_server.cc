#include "frazil/server/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>

#include "frazil/common/logging.h"

namespace frazil::server {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kListenerId = 0;
constexpr uint64_t kWakeId = 1;
// After a response that closes the connection, what the client still sends
// is read and dropped for up to this long before the socket is closed: a
// close with unread input sends a reset, which can destroy the response
// before the client reads it.
constexpr std::chrono::milliseconds kLinger{1000};
// Timeouts are checked at most this often (they fire up to this late).
constexpr std::chrono::milliseconds kSweepGranularity{20};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string Serialize(int status, std::string_view content_type, std::string_view body, bool head,
                      bool keep_alive, std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + HttpReason(status) + "\r\n";
  if (!content_type.empty()) out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  if (!head) out += body;
  return out;
}

std::string ErrorResponse(int status, std::string_view message, bool head, bool keep_alive,
                          std::string_view extra_headers = {}) {
  // JSON like the admin API's errors; the message is ours, no quoting needed.
  std::string body = "{\"error\":\"" + std::string(message) + "\"}\n";
  return Serialize(status, "application/json", body, head, keep_alive, extra_headers);
}

}  // namespace

const char* HttpReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

struct HttpServer::Connection {
  enum class State { kReading, kHandling, kWriting, kLingering };
  uint64_t id = 0;
  int fd = -1;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t out_pos = 0;
  bool close_after = false;
  bool request_started = false;  // bytes of the next request have arrived
  bool processing = false;       // inside ProcessInput
  bool closed = false;
  uint32_t events = 0;
  Clock::time_point deadline = Clock::time_point::max();
};

struct HttpServer::Request {
  std::string method;
  std::string path;
  std::string query;  // after '?', as sent
  bool keep_alive = true;
};

HttpServer::HttpServer(HttpServerOptions options)
    : options_(options), executor_("http", std::max<size_t>(1, options.handler_threads)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Get(const std::string& path, std::function<HttpResponse()> handler) {
  Route r;
  r.method = "GET";
  r.exact = true;
  r.path = path;
  r.handler = [handler = std::move(handler)](const std::vector<std::string>&) { return handler(); };
  routes_.push_back(std::move(r));
}

void HttpServer::Get(const std::string& pattern, PatternHandler handler) {
  Route r;
  r.method = "GET";
  r.pattern = std::regex(pattern);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

void HttpServer::Delete(const std::string& pattern, PatternHandler handler) {
  Route r;
  r.method = "DELETE";
  r.pattern = std::regex(pattern);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

void HttpServer::Put(const std::string& pattern, PatternHandler handler) {
  Route r;
  r.method = "PUT";
  r.pattern = std::regex(pattern);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Status HttpServer::Start(const HostPort& address) {
  if (loop_.joinable() || stopping_) return Status::InvalidArgument("HTTP server already started");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  int gai =
      ::getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    return Status::Unavailable("cannot listen for HTTP on " + address.ToString() + ": " + gai_strerror(gai));
  }
  int last_errno = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    // SO_REUSEADDR only (no SO_REUSEPORT): a port taken by another broker
    // must be an error, not silently shared.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      listen_fd_ = fd;
      break;
    }
    last_errno = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0) {
    return Status::Unavailable("cannot listen for HTTP on " + address.ToString() + " (" +
                               std::strerror(last_errno) + ": address in use or not local?)");
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    bound_port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    int err = errno;
    Stop();
    return Status::IoErrorFromErrno("HTTP event loop", "epoll/eventfd", err);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  next_sweep_ = Clock::time_point::max();
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "http-loop");
    Loop();
  });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (loop_.joinable()) {
    stopping_ = true;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    loop_.join();
  }
  stopping_ = true;
  // Handlers under way finish; their responses have no connection left.
  executor_.Shutdown();
  for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_, &spare_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

HttpServerStats HttpServer::Stats() const {
  auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {r(n_connections_), r(n_accepted_), r(n_rejected_), r(n_timed_out_), r(n_requests_), r(n_bad_)};
}

void HttpServer::Loop() {
  epoll_event events[256];
  while (!stopping_.load()) {
    int timeout_ms = -1;
    if (next_sweep_ != Clock::time_point::max()) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_sweep_ - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(wait, 0, 60000));
    }
    int n = ::epoll_wait(epoll_fd_, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) {
      FRAZIL_LOG_ERROR("HTTP event loop: epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kListenerId) {
        AcceptAll();
        continue;
      }
      if (id == kWakeId) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
        TakeCompleted();
        continue;
      }
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      Connection& c = *it->second;
      uint32_t ev = events[i].events;
      if ((ev & EPOLLIN) || (ev & (EPOLLHUP | EPOLLERR))) OnReadable(c);
      if (!c.closed && (ev & EPOLLOUT)) OnWritable(c);
    }
    if (Clock::now() >= next_sweep_) Sweep();
    closed_.clear();
  }
  for (auto& [id, c] : conns_) ::close(c->fd);
  n_connections_ = 0;
  conns_.clear();
  closed_.clear();
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void HttpServer::AcceptAll() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of descriptors: the listener stays readable, so without
        // taking the connection the loop would spin. Give up the spare
        // descriptor to accept it, answer 503 and close.
        ::close(spare_fd_);
        int extra = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (extra >= 0) Reject(extra);
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (extra >= 0) continue;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        FRAZIL_LOG_WARN("HTTP accept: {}", std::strerror(errno));
      }
      return;
    }
    if (conns_.size() >= options_.max_connections) {
      Reject(fd);
      continue;
    }
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    auto c = std::make_unique<Connection>();
    c->id = next_id_++;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    c->events = EPOLLIN;
    Connection& ref = *c;
    conns_.emplace(c->id, std::move(c));
    n_accepted_.fetch_add(1, std::memory_order_relaxed);
    n_connections_.store(conns_.size(), std::memory_order_relaxed);
    SetDeadline(ref, Clock::now() + options_.idle_timeout);
  }
}

void HttpServer::Reject(int fd) {
  n_rejected_.fetch_add(1, std::memory_order_relaxed);
  static const std::string kBusy = ErrorResponse(503, "too many connections", false, false);
  [[maybe_unused]] ssize_t n = ::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void HttpServer::OnReadable(Connection& c) {
  char buf[16384];
  ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close(c);
    return;
  }
  if (n == 0) {  // the client closed (a half-sent request is dropped)
    Close(c);
    return;
  }
  if (c.state == Connection::State::kLingering) return;  // dropped
  if (c.in.empty() && !c.request_started) {
    c.request_started = true;
    SetDeadline(c, Clock::now() + options_.request_timeout);
  }
  c.in.append(buf, static_cast<size_t>(n));
  ProcessInput(c);
}

void HttpServer::ProcessInput(Connection& c) {
  if (c.processing) return;  // a response finished from inside the loop below
  c.processing = true;
  while (!c.closed && c.state == Connection::State::kReading && !c.in.empty()) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos || end + 4 > options_.max_header_bytes) {
      if (end == std::string::npos && c.in.size() <= options_.max_header_bytes) break;  // wait for more
      n_bad_.fetch_add(1, std::memory_order_relaxed);
      SendNow(c, ErrorResponse(431, "request headers too large", false, false), true);
      break;
    }
    std::string_view head(c.in.data(), end + 2);  // each line ends with CRLF
    auto bad = [&](int status, std::string_view why) {
      n_bad_.fetch_add(1, std::memory_order_relaxed);
      SendNow(c, ErrorResponse(status, why, false, false), true);
    };
    // Request line: METHOD SP target SP HTTP/1.x
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1 || sp1 == 0) {
      bad(400, "malformed request line");
      break;
    }
    Request req;
    req.method = std::string(line.substr(0, sp1));
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
      bad(version.substr(0, 5) == "HTTP/" ? 505 : 400, "only HTTP/1.0 and HTTP/1.1 are served");
      break;
    }
    req.keep_alive = version == "HTTP/1.1";
    // Absolute form (http://host/path) is allowed by HTTP/1.1 for servers.
    if (target.substr(0, 7) == "http://") {
      size_t slash = target.find('/', 7);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target.empty() || target.front() != '/') {
      bad(400, "request target must be a path");
      break;
    }
    auto path = PercentDecode(target.substr(0, target.find('?')));
    if (!path) {
      bad(400, "invalid percent-encoding in the path");
      break;
    }
    req.path = std::move(*path);
    if (size_t q = target.find('?'); q != std::string_view::npos)
      req.query = std::string(target.substr(q + 1));
    std::optional<uint64_t> content_length;
    bool chunked = false, malformed = false;
    for (size_t pos = eol + 2; pos < head.size();) {
      size_t next = head.find("\r\n", pos);
      std::string_view h = head.substr(pos, next - pos);
      pos = next + 2;
      size_t colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0 || h.front() == ' ' || h.front() == '\t' ||
          h.substr(0, colon).find_first_of(" \t") != std::string_view::npos) {
        malformed = true;
        break;
      }
      std::string name = Lower(h.substr(0, colon));
      std::string_view value = Trim(h.substr(colon + 1));
      if (name == "content-length") {
        if (value.empty() || value.size() > 15 ||
            value.find_first_not_of("0123456789") != std::string::npos) {
          malformed = true;
          break;
        }
        uint64_t v = std::stoull(std::string(value));
        if (content_length && *content_length != v) {
          malformed = true;
          break;
        }
        content_length = v;
      } else if (name == "transfer-encoding") {
        chunked = true;
      } else if (name == "connection") {
        std::string v = Lower(value);
        // A comma-separated list of options.
        size_t start = 0;
        while (start <= v.size()) {
          size_t comma = v.find(',', start);
          std::string_view token = Trim(std::string_view(v).substr(start, comma - start));
          if (token == "close") req.keep_alive = false;
          if (token == "keep-alive" && version == "HTTP/1.0") req.keep_alive = true;
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
    }
    if (malformed) {
      bad(400, "malformed header");
      break;
    }
    if (chunked) {  // no handler takes a body; a chunked one cannot be framed without decoding
      bad(501, "chunked request bodies are not supported");
      break;
    }
    uint64_t body = content_length.value_or(0);
    if (body > options_.max_body_bytes) {
      bad(413, "request body too large");
      break;
    }
    if (c.in.size() < end + 4 + body) break;  // the body is still arriving
    c.in.erase(0, end + 4 + body);
    c.request_started = false;
    Dispatch(c, std::move(req));
  }
  c.processing = false;
}

void HttpServer::Dispatch(Connection& c, Request req) {
  bool head = req.method == "HEAD";
  std::string method = head ? "GET" : req.method;
  const Route* route = nullptr;
  std::vector<std::string> groups;
  std::string allow;
  for (const Route& r : routes_) {
    std::smatch m;
    bool match = r.exact ? r.path == req.path : std::regex_match(req.path, m, r.pattern);
    if (!match) continue;
    if (allow.find(r.method) == std::string::npos) {
      allow += (allow.empty() ? "" : ", ") + r.method + (r.method == "GET" ? ", HEAD" : "");
    }
    if (r.method == method && route == nullptr) {
      route = &r;
      for (size_t i = 1; i < m.size(); ++i) groups.push_back(m[i].str());
      groups.push_back(req.query);
    }
  }
  if (route == nullptr) {
    n_bad_.fetch_add(1, std::memory_order_relaxed);
    if (allow.empty()) {
      SendNow(c, ErrorResponse(404, "not found", head, req.keep_alive), !req.keep_alive);
    } else {
      SendNow(c, ErrorResponse(405, "method not allowed", head, req.keep_alive, "Allow: " + allow + "\r\n"),
              !req.keep_alive);
    }
    return;
  }
  // The handler may do I/O: it runs on the executor, and the loop sends
  // its response when it is done. Meanwhile nothing more is read from this
  // connection (a pipelined request waits in the buffer or the socket).
  c.state = Connection::State::kHandling;
  SetInterest(c, 0);
  c.deadline = Clock::time_point::max();
  executor_.Post([this, id = c.id, route, groups = std::move(groups), head, keep_alive = req.keep_alive] {
    std::string bytes;
    try {
      HttpResponse r = route->handler(groups);
      bytes = Serialize(r.status, r.content_type, r.body, head, keep_alive);
    } catch (const std::exception& e) {
      FRAZIL_LOG_ERROR("HTTP handler failed: {}", e.what());
      bytes = ErrorResponse(500, "internal error", head, keep_alive);
    }
    {
      MutexLock lock(&done_mu_);
      done_.push_back(Done{id, std::move(bytes), !keep_alive});
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  });
}

void HttpServer::TakeCompleted() {
  std::vector<Done> done;
  {
    MutexLock lock(&done_mu_);
    done.swap(done_);
  }
  for (Done& d : done) {
    auto it = conns_.find(d.conn_id);
    if (it == conns_.end() || it->second->closed) continue;
    SendNow(*it->second, std::move(d.bytes), d.close);
  }
}

void HttpServer::SendNow(Connection& c, std::string bytes, bool close) {
  c.out = std::move(bytes);
  c.out_pos = 0;
  c.close_after = close;
  c.state = Connection::State::kWriting;
  OnWritable(c);
}

void HttpServer::OnWritable(Connection& c) {
  if (c.state != Connection::State::kWriting) return;
  while (c.out_pos < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!(c.events & EPOLLOUT)) {
          SetInterest(c, EPOLLOUT);
          SetDeadline(c, Clock::now() + options_.request_timeout);
        }
        return;
      }
      Close(c);
      return;
    }
    c.out_pos += static_cast<size_t>(n);
  }
  n_requests_.fetch_add(1, std::memory_order_relaxed);
  c.out.clear();
  c.out_pos = 0;
  FinishWrite(c);
}

void HttpServer::FinishWrite(Connection& c) {
  if (c.close_after) {
    ::shutdown(c.fd, SHUT_WR);
    c.state = Connection::State::kLingering;
    c.in.clear();
    SetInterest(c, EPOLLIN);
    c.deadline = Clock::time_point::max();
    SetDeadline(c, Clock::now() + std::min<std::chrono::milliseconds>(kLinger, options_.idle_timeout));
    return;
  }
  c.state = Connection::State::kReading;
  SetInterest(c, EPOLLIN);
  c.deadline = Clock::time_point::max();
  if (c.in.empty()) {
    c.request_started = false;
    SetDeadline(c, Clock::now() + options_.idle_timeout);
  } else {  // a pipelined request is already here: its time starts now
    c.request_started = true;
    SetDeadline(c, Clock::now() + options_.request_timeout);
    ProcessInput(c);
  }
}

void HttpServer::Close(Connection& c) {
  if (c.closed) return;
  c.closed = true;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  auto it = conns_.find(c.id);
  if (it != conns_.end()) {
    closed_.push_back(std::move(it->second));
    conns_.erase(it);
  }
  n_connections_.store(conns_.size(), std::memory_order_relaxed);
}

void HttpServer::SetInterest(Connection& c, uint32_t events) {
  if (c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.events = events;
}

void HttpServer::SetDeadline(Connection& c, Clock::time_point when) {
  c.deadline = when;
  if (when < next_sweep_) next_sweep_ = when;
}

void HttpServer::Sweep() {
  auto now = Clock::now();
  auto next = Clock::time_point::max();
  std::vector<Connection*> expired;
  for (auto& [id, c] : conns_) {
    if (c->deadline <= now) {
      expired.push_back(c.get());
    } else {
      next = std::min(next, c->deadline);
    }
  }
  for (Connection* c : expired) {
    if (c->state != Connection::State::kLingering) n_timed_out_.fetch_add(1, std::memory_order_relaxed);
    if (c->state == Connection::State::kReading && c->request_started) {
      // Slow sender: say why, best effort, then close.
      static const std::string kTimeout = ErrorResponse(408, "request not received in time", false, false);
      [[maybe_unused]] ssize_t n =
          ::send(c->fd, kTimeout.data(), kTimeout.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    Close(*c);
  }
  // Deadlines only move later as connections make progress; sweeping at
  // the earliest one (not more often than the granularity) is enough.
  next_sweep_ = next == Clock::time_point::max() ? next : std::max(next, now + kSweepGranularity);
}

}  // namespace frazil::server
