#include "outreach/smpp_channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "outreach/smpp_codec.h"
#include "outreach/smpp_pdu.h"

// libsmpp34's headers are C; the structs must come before the functions that take them.
// clang-format off
extern "C" {
#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>
}
// clang-format on

namespace mercator::outreach {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;
using std::chrono::milliseconds;

constexpr size_t kHeaderBytes = 16;
constexpr uint32_t kMaxPduBytes = 64 * 1024;
constexpr int64_t kUnbindWaitMs = 2000;
constexpr uint32_t kEsmeRxTAppn = 0x64;  // ESME receiver temporary error: the SMSC retries
constexpr uint32_t kMaxSequence = 0x7FFFFFFF;

template <typename Pdu>
absl::StatusOr<std::string> Pack(uint32_t type, Pdu& pdu) {
  absl::MutexLock lock(&Smpp34Mutex());
  std::string out(kMaxPduBytes, '\0');
  int len = 0;
  if (smpp34_pack(type, reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(out.size()), &len,
                  &pdu) != 0) {
    return absl::InternalError(fmt::format("smpp: packing 0x{:08X} failed: {}", type,
                                           static_cast<const char*>(smpp34_strerror)));
  }
  out.resize(static_cast<size_t>(len));
  return out;
}

template <typename Pdu>
absl::Status Unpack(uint32_t type, Pdu& pdu, std::string_view bytes) {
  absl::MutexLock lock(&Smpp34Mutex());
  std::memset(&pdu, 0, sizeof pdu);
  if (smpp34_unpack(type, &pdu, reinterpret_cast<const uint8_t*>(bytes.data()),
                    static_cast<int>(bytes.size())) != 0) {
    return absl::InvalidArgumentError(fmt::format("smpp: malformed PDU 0x{:08X}: {}", type,
                                                  static_cast<const char*>(smpp34_strerror)));
  }
  return absl::OkStatus();
}

uint32_t ReadU32(std::string_view b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

// A header-only PDU (enquire_link, unbind, their responses, generic_nack).
std::string HeaderPdu(uint32_t command_id, uint32_t status, uint32_t seq) {
  std::string out(kHeaderBytes, '\0');
  const uint32_t fields[4] = {static_cast<uint32_t>(kHeaderBytes), command_id, status, seq};
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k < 4; ++k) {
      out[static_cast<size_t>(i * 4 + k)] = static_cast<char>((fields[i] >> (24 - 8 * k)) & 0xFF);
    }
  }
  return out;
}

template <size_t N>
void CopyCString(uint8_t (&dest)[N], std::string_view s) {
  const size_t n = std::min(s.size(), N - 1);
  std::memcpy(dest, s.data(), n);
  dest[n] = 0;
}

std::string CString(const uint8_t* p, size_t max) {
  const char* c = reinterpret_cast<const char*>(p);
  return std::string(c, strnlen(c, max));
}

// A mobile number as the customer store keeps it: "+8613812341234" and "8613812341234" are
// "13812341234".
std::string NationalNumber(std::string number) {
  if (!number.empty() && number[0] == '+') number.erase(0, 1);
  if (number.size() == 13 && number.rfind("86", 0) == 0) number.erase(0, 2);
  return number;
}

int64_t Backoff(int64_t base, int64_t max, int32_t attempt) {
  int64_t d = base;
  for (int32_t i = 1; i < attempt && d < max; ++i) d *= 2;
  return std::min(d, max);
}

}  // namespace

absl::Status ValidateSmppOptions(const SmppOptions& o) {
  if (o.host.empty()) return absl::InvalidArgumentError("smpp.address: host is empty");
  if (o.port <= 0 || o.port > 65535) {
    return absl::InvalidArgumentError("smpp.address: port must be 1..65535");
  }
  if (o.system_id.empty() || o.system_id.size() > 15) {
    return absl::InvalidArgumentError("smpp.system_id: 1 to 15 characters");
  }
  if (o.password.size() > 8) {
    return absl::InvalidArgumentError("smpp.password: at most 8 characters (SMPP 3.4)");
  }
  if (o.system_type.size() > 12) {
    return absl::InvalidArgumentError("smpp.system_type: at most 12 characters");
  }
  if (o.source_addr.size() > 20) {
    return absl::InvalidArgumentError("smpp.source_addr: at most 20 characters");
  }
  if (o.window <= 0 || o.window > 1024) {
    return absl::InvalidArgumentError("smpp.window: must be 1..1024");
  }
  if (o.connections < 1 || o.connections > 16) {
    return absl::InvalidArgumentError("smpp.connections: must be 1..16");
  }
  if (o.enquire_link_ms <= 0)
    return absl::InvalidArgumentError("smpp.enquire_link_ms: must be > 0");
  if (o.response_timeout_ms <= 0) {
    return absl::InvalidArgumentError("smpp.response_timeout_ms: must be > 0");
  }
  if (o.reconnect_base_ms <= 0 || o.reconnect_max_ms < o.reconnect_base_ms) {
    return absl::InvalidArgumentError(
        "smpp.reconnect_base_ms: must be > 0 and at most smpp.reconnect_max_ms");
  }
  if (o.throttle_base_ms <= 0 || o.throttle_max_ms < o.throttle_base_ms) {
    return absl::InvalidArgumentError(
        "smpp.throttle_base_ms: must be > 0 and at most smpp.throttle_max_ms");
  }
  if (o.poll_interval_ms <= 0) {
    return absl::InvalidArgumentError("smpp.poll_interval_ms: must be > 0");
  }
  if (o.batch <= 0) return absl::InvalidArgumentError("smpp.batch: must be > 0");
  return absl::OkStatus();
}

// The session thread and everything it owns. Lock order: mu_ only (never held across I/O or
// storage).
// The session thread and everything it owns: `connections` links to the SMSC, each bound on
// its own with its own window, driven together by one poll loop so that a link connecting,
// binding or lost never holds up the others. Lock order: mu_ only (never held across I/O or
// storage).
class SmppChannel::Session {
 public:
  Session(SmppRepository* repo, WebhookRepository* receipts, OutreachRepository* outreach,
          CustomerRepository* customers, auth::AuditLog* audit, const Clock* clock,
          SmppOptions options)
      : repo_(repo),
        receipts_(receipts),
        outreach_(outreach),
        customers_(customers),
        audit_(audit),
        clock_(clock),
        options_(std::move(options)),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        links_(static_cast<size_t>(std::max(1, options_.connections))) {
    for (size_t i = 0; i < links_.size(); ++i) links_[i].index = static_cast<int32_t>(i);
  }

  ~Session() {
    Stop();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  absl::Status Start() {
    if (thread_.joinable()) return absl::OkStatus();
    if (wake_fd_ < 0) return absl::InternalError("smpp: eventfd failed");
    stop_ = false;
    thread_ = std::thread([this] { Loop(); });
    return absl::OkStatus();
  }

  void Stop() {
    stop_ = true;
    Wake();
    if (thread_.joinable()) thread_.join();
  }

  void Wake() {
    if (wake_fd_ < 0) return;
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  SmppChannel::Stats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }
  void SetObserver(SmppChannel::Observer observer) {
    absl::MutexLock lock(&mu_);
    observer_ = std::move(observer);
  }
  const SmppOptions& options() const { return options_; }

 private:
  struct Job {
    int64_t message_id = 0;
    std::string dest;
    uint8_t data_coding = kDataCodingUcs2;
    std::vector<std::string> parts;  // short_message octets per segment
    std::vector<bool> accepted;
  };
  struct Ready {
    int64_t message_id = 0;
    int32_t segment = 0;  // 0-based
  };
  struct InFlight {
    int64_t message_id = 0;  // 0: not a submit (enquire_link, unbind)
    int32_t segment = 0;
    SteadyTime sent;
  };
  // The addresses of the SMSC's host name, looked up on a thread of their own: a slow resolver
  // must not stop the session's loop (the other links' submits, receipts and enquire_links).
  // The thread fills this in and leaves; a link that gave up on it just drops its reference.
  struct Resolution {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    int error ABSL_GUARDED_BY(mu) = 0;  // getaddrinfo's
    std::vector<sockaddr_storage> addrs ABSL_GUARDED_BY(mu);
    std::vector<socklen_t> addr_lens ABSL_GUARDED_BY(mu);
  };
  // One connection to the SMSC. kIdle waits for next_connect; kResolving waits for the host
  // name's addresses; kConnecting waits for a non-blocking connect; kBinding waits for
  // bind_transceiver_resp; kBound submits.
  enum class LinkState { kIdle, kResolving, kConnecting, kBinding, kBound };
  struct Link {
    int32_t index = 0;
    LinkState state = LinkState::kIdle;
    int fd = -1;
    std::string in;
    uint32_t seq = 0;
    uint32_t enquire_seq = 0;
    SteadyTime deadline;                     // kResolving, kConnecting, kBinding: give up then
    std::shared_ptr<Resolution> resolution;  // kResolving
    SteadyTime next_connect = SteadyClock::now();
    int32_t connect_attempt = 0;
    std::vector<sockaddr_storage> addrs;  // kConnecting: the addresses not tried yet
    std::vector<socklen_t> addr_lens;
    SteadyTime last_received = SteadyClock::now();
    SteadyTime paused_until = SteadyClock::now();  // after a throttling answer on this bind
    int32_t throttle_streak = 0;
    std::map<uint32_t, InFlight> inflight;
  };

  template <typename F>
  void Count(F f) {
    absl::MutexLock lock(&mu_);
    f(stats_);
  }

  void Loop() {
    SteadyTime next_load = SteadyClock::now();
    while (!stop_) {
      const SteadyTime now = SteadyClock::now();
      if (now >= next_observe_) {
        next_observe_ = now + std::chrono::seconds(1);
        Observe();
      }
      bool any_bound = false;
      for (Link& link : links_) {
        if (link.state == LinkState::kIdle && now >= link.next_connect) {
          absl::Status s = StartConnect(link);
          if (!s.ok()) ConnectFailed(link, s);
        } else if (link.state == LinkState::kResolving) {
          absl::Status s = ResolutionDone(link, now);
          if (!s.ok()) ConnectFailed(link, s);
        } else if ((link.state == LinkState::kConnecting || link.state == LinkState::kBinding) &&
                   now >= link.deadline) {
          ConnectFailed(link, absl::DeadlineExceededError(link.state == LinkState::kConnecting
                                                              ? "smpp: connect timed out"
                                                              : "smpp: no bind_transceiver_resp"));
        }
        any_bound = any_bound || link.state == LinkState::kBound;
      }
      // More records are read when woken, every poll interval, and whenever the queue runs
      // low while the last read left some behind (a backlog drains at the links' pace).
      const bool low = ready_.size() < 4 * static_cast<size_t>(options_.window) * links_.size();
      if (any_bound && (load_now_ || now >= next_load || (low && more_pending_))) {
        LoadWork();
        load_now_ = false;
        next_load = SteadyClock::now() + milliseconds(options_.poll_interval_ms);
      }
      FillWindows();
      for (Link& link : links_) {
        if (link.state != LinkState::kBound) continue;
        absl::Status s = MaybeEnquireLink(link);
        if (s.ok()) s = CheckTimeouts(link);
        if (!s.ok()) LinkFailed(link, s);
      }
      PollOnce(next_load);
    }
    Shutdown();
  }

  // Waits for the sockets, the wake-up or the next deadline, and handles what is ready.
  void PollOnce(SteadyTime next_load) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
    std::vector<Link*> polled;
    for (Link& link : links_) {
      if (link.fd < 0) continue;
      fds.push_back({link.fd,
                     static_cast<short>(link.state == LinkState::kConnecting ? POLLOUT : POLLIN),
                     0});
      polled.push_back(&link);
    }
    const auto wait =
        std::chrono::duration_cast<milliseconds>(NextDeadline(next_load) - SteadyClock::now());
    const int rc =
        poll(fds.data(), fds.size(), static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1000)));
    if (rc <= 0) return;  // a timeout, or EINTR: the loop looks again
    if ((fds[0].revents & POLLIN) != 0) {
      DrainWake();
      load_now_ = load_now_ || jobs_.size() < static_cast<size_t>(options_.batch);
    }
    for (size_t i = 0; i < polled.size(); ++i) {
      Link& link = *polled[i];
      const short revents = fds[i + 1].revents;
      if (revents == 0) continue;
      absl::Status s =
          link.state == LinkState::kConnecting ? FinishConnect(link) : ReadAndDispatch(link);
      if (!s.ok()) LinkFailed(link, s);
    }
  }

  void Observe() {
    SmppChannel::Observer observer;
    Stats st;
    {
      absl::MutexLock lock(&mu_);
      observer = observer_;
      st = stats_;
    }
    if (observer) observer(st);
  }

  void DrainWake() {
    uint64_t v = 0;
    while (read(wake_fd_, &v, sizeof v) > 0) {
    }
  }

  SteadyTime NextDeadline(SteadyTime next_load) const {
    const SteadyTime now = SteadyClock::now();
    SteadyTime d = next_load;
    for (const Link& link : links_) {
      switch (link.state) {
        case LinkState::kIdle:
          d = std::min(d, link.next_connect);
          break;
        case LinkState::kResolving:  // the resolver thread does not wake the loop: look again
          d = std::min({d, link.deadline, now + milliseconds(10)});
          break;
        case LinkState::kConnecting:
        case LinkState::kBinding:
          d = std::min(d, link.deadline);
          break;
        case LinkState::kBound:
          if (!ready_.empty() && link.paused_until > now) d = std::min(d, link.paused_until);
          d = std::min(d, link.last_received + milliseconds(options_.enquire_link_ms));
          for (const auto& [seq, f] : link.inflight) {
            d = std::min(d, f.sent + milliseconds(options_.response_timeout_ms));
          }
          break;
      }
    }
    return d;
  }

  // --- connection -------------------------------------------------------------------------

  // Starts a connection: an address (an IP literal) connects at once; a host name is looked up
  // on a thread of its own (kResolving), and ResolutionDone connects once it is known.
  absl::Status StartConnect(Link& link) {
    const std::string port = std::to_string(options_.port);
    if (Resolution literal; Resolve(options_.host, port, AI_NUMERICHOST, literal)) {
      absl::MutexLock lock(&literal.mu);
      return ConnectTo(link, literal.addrs, literal.addr_lens);
    }
    // A fresh result for the thread: the literal attempt's failure is not the name's.
    auto resolution = std::make_shared<Resolution>();
    link.state = LinkState::kResolving;
    link.resolution = resolution;
    link.deadline = SteadyClock::now() + milliseconds(options_.response_timeout_ms);
    std::thread([resolution, host = options_.host, port] {
      Resolve(host, port, 0, *resolution);
    }).detach();
    return absl::OkStatus();
  }

  // getaddrinfo for `host` into `out` (done, error, addresses in the resolver's order); true if
  // it found an address.
  static bool Resolve(const std::string& host, const std::string& port, int flags,
                      Resolution& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    absl::MutexLock lock(&out.mu);
    out.done = true;
    out.error = rc != 0 ? rc : (res == nullptr ? EAI_NONAME : 0);
    for (addrinfo* a = rc == 0 ? res : nullptr; a != nullptr; a = a->ai_next) {
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof ss));
      out.addrs.push_back(ss);
      out.addr_lens.push_back(a->ai_addrlen);
    }
    if (res != nullptr) freeaddrinfo(res);
    return out.error == 0;
  }

  // kResolving: connects once the host name's addresses are known; an error if it has none or
  // the lookup outlasted the response timeout (its thread is left to finish on its own).
  absl::Status ResolutionDone(Link& link, SteadyTime now) {
    std::shared_ptr<Resolution> r = link.resolution;
    absl::MutexLock lock(&r->mu);
    if (!r->done) {
      if (now < link.deadline) return absl::OkStatus();
      link.resolution.reset();
      link.state = LinkState::kIdle;
      return absl::DeadlineExceededError(
          fmt::format("smpp: resolving {} timed out", options_.host));
    }
    link.resolution.reset();
    link.state = LinkState::kIdle;
    if (r->error != 0) {
      return absl::UnavailableError(
          fmt::format("smpp: cannot resolve {}: {}", options_.host, gai_strerror(r->error)));
    }
    return ConnectTo(link, r->addrs, r->addr_lens);
  }

  // Connects to the first of `addrs` that takes a connection.
  absl::Status ConnectTo(Link& link, const std::vector<sockaddr_storage>& addrs,
                         const std::vector<socklen_t>& addr_lens) {
    // Tried from the back: keep the resolver's order.
    link.addrs.assign(addrs.rbegin(), addrs.rend());
    link.addr_lens.assign(addr_lens.rbegin(), addr_lens.rend());
    return ConnectNext(link, absl::UnavailableError("smpp: connection refused"));
  }

  // Connects to the next address not tried yet; `last` is the error if none is left.
  absl::Status ConnectNext(Link& link, absl::Status last) {
    while (!link.addrs.empty()) {
      const sockaddr_storage addr = link.addrs.back();
      const socklen_t len = link.addr_lens.back();
      link.addrs.pop_back();
      link.addr_lens.pop_back();
      const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      timeval tv{};
      tv.tv_sec = options_.response_timeout_ms / 1000;
      tv.tv_usec = static_cast<suseconds_t>((options_.response_timeout_ms % 1000) * 1000);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      link.fd = fd;
      link.in.clear();
      link.inflight.clear();
      link.deadline = SteadyClock::now() + milliseconds(options_.response_timeout_ms);
      if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0) return Connected(link);
      if (errno == EINPROGRESS) {
        link.state = LinkState::kConnecting;
        return absl::OkStatus();
      }
      last = ConnectError(errno);
      close(fd);
      link.fd = -1;
    }
    return last;
  }

  absl::Status ConnectError(int error) const {
    return absl::UnavailableError(fmt::format("smpp: connecting to {}:{}: {}", options_.host,
                                              options_.port, std::strerror(error)));
  }

  // The non-blocking connect finished (the socket is writable): on to the bind, or the next
  // address.
  absl::Status FinishConnect(Link& link) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error == 0) return Connected(link);
    close(link.fd);
    link.fd = -1;
    link.state = LinkState::kIdle;
    return ConnectNext(link, ConnectError(error));
  }

  // Sends bind_transceiver; its answer comes through ReadAndDispatch (kBinding). The socket
  // blocks from now on (writes wait at most response_timeout_ms, SO_SNDTIMEO).
  absl::Status Connected(Link& link) {
    const int flags = fcntl(link.fd, F_GETFL);
    if (flags >= 0) fcntl(link.fd, F_SETFL, flags & ~O_NONBLOCK);
    link.addrs.clear();
    link.addr_lens.clear();
    bind_transceiver_t b;
    std::memset(&b, 0, sizeof b);
    b.command_id = BIND_TRANSCEIVER;
    b.sequence_number = NextSeq(link);
    CopyCString(b.system_id, options_.system_id);
    CopyCString(b.password, options_.password);
    CopyCString(b.system_type, options_.system_type);
    b.interface_version = SMPP_VERSION;
    ASSIGN_OR_RETURN(std::string pdu, Pack(BIND_TRANSCEIVER, b));
    link.state = LinkState::kBinding;
    link.deadline = SteadyClock::now() + milliseconds(options_.response_timeout_ms);
    return Send(link, pdu);
  }

  // The answer to bind_transceiver; anything else before it is ignored.
  absl::Status OnBindAnswer(Link& link, uint32_t id, uint32_t status) {
    if (id != GENERIC_NACK && id != BIND_TRANSCEIVER_RESP) return absl::OkStatus();
    if (status != ESME_ROK) {
      return absl::PermissionDeniedError(
          fmt::format("smpp: bind_transceiver refused: {}", CommandStatusName(status)));
    }
    link.state = LinkState::kBound;
    link.connect_attempt = 0;
    link.last_received = SteadyClock::now();
    link.enquire_seq = 0;
    link.throttle_streak = 0;
    load_now_ = true;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.binds;
      ++stats_.bound_links;
      stats_.bound = true;
    }
    Log(Severity::kInfo, "smpp: bound",
        {{"server.address", options_.host},
         {"server.port", std::to_string(options_.port)},
         {"smpp.link", std::to_string(link.index)}});
    return absl::OkStatus();
  }

  // A link failed: a bound one is lost (reconnect after the base delay), one connecting or
  // binding failed to come up (back-off doubling per attempt).
  void LinkFailed(Link& link, const absl::Status& s) {
    if (link.state != LinkState::kBound) {
      ConnectFailed(link, s);
      return;
    }
    Log(Severity::kWarn, "smpp: link lost",
        {{"error", std::string(s.message())}, {"smpp.link", std::to_string(link.index)}});
    Disconnect(link);
    // The first reconnect after a link that worked waits the base delay; failures to connect
    // again double it (ConnectFailed).
    link.next_connect = SteadyClock::now() + milliseconds(options_.reconnect_base_ms);
  }

  void ConnectFailed(Link& link, const absl::Status& s) {
    CloseSocket(link);
    link.resolution.reset();
    link.addrs.clear();
    link.addr_lens.clear();
    ++link.connect_attempt;
    Count([](Stats& st) { ++st.connect_failures; });
    const int64_t delay =
        Backoff(options_.reconnect_base_ms, options_.reconnect_max_ms, link.connect_attempt);
    Log(Severity::kWarn, "smpp: connect or bind failed",
        {{"error", std::string(s.message())},
         {"retry_ms", std::to_string(delay)},
         {"smpp.link", std::to_string(link.index)}});
    link.next_connect = SteadyClock::now() + milliseconds(delay);
  }

  // Reads until one whole PDU is buffered or `until`; nullopt on a timeout slice.
  absl::StatusOr<std::optional<std::string>> NextPdu(Link& link, SteadyTime until) {
    for (;;) {
      if (link.in.size() >= 4) {
        const uint32_t len = ReadU32(link.in, 0);
        if (len < kHeaderBytes || len > kMaxPduBytes) {
          return absl::DataLossError(fmt::format("smpp: bad command_length {}", len));
        }
        if (link.in.size() >= len) {
          std::string pdu = link.in.substr(0, len);
          link.in.erase(0, len);
          return std::optional<std::string>(std::move(pdu));
        }
      }
      const auto wait = std::chrono::duration_cast<milliseconds>(until - SteadyClock::now());
      if (wait.count() <= 0) return std::optional<std::string>();
      pollfd p = {link.fd, POLLIN, 0};
      const int rc = poll(&p, 1, static_cast<int>(std::min<int64_t>(wait.count(), 1000)));
      if (rc < 0 && errno != EINTR) return absl::UnavailableError("smpp: poll failed");
      if (rc <= 0) continue;
      RETURN_IF_ERROR(ReadSome(link));
    }
  }

  absl::Status ReadSome(Link& link) {
    char buf[16384];
    const ssize_t n = recv(link.fd, buf, sizeof buf, 0);
    if (n == 0) return absl::UnavailableError("smpp: the SMSC closed the connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return absl::OkStatus();
      return absl::UnavailableError(fmt::format("smpp: recv: {}", std::strerror(errno)));
    }
    link.in.append(buf, static_cast<size_t>(n));
    return absl::OkStatus();
  }

  absl::Status Send(Link& link, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(link.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(fmt::format("smpp: send: {}", std::strerror(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  void CloseSocket(Link& link) {
    if (link.fd >= 0) close(link.fd);
    link.fd = -1;
    link.in.clear();
    if (link.state == LinkState::kBound) {
      absl::MutexLock lock(&mu_);
      --stats_.bound_links;
      stats_.bound = stats_.bound_links > 0;
    }
    link.state = LinkState::kIdle;
  }

  // Drops a bound link: its segments in flight go back to the front of the shared queue (in
  // order), to be submitted again on any bound link.
  void Disconnect(Link& link) {
    FlushAccepted();
    std::vector<Ready> back;
    for (const auto& [seq, f] : link.inflight) {
      if (f.message_id != 0) back.push_back({f.message_id, f.segment});
    }
    std::sort(back.begin(), back.end(), [](const Ready& a, const Ready& b) {
      return a.message_id != b.message_id ? a.message_id < b.message_id : a.segment < b.segment;
    });
    ready_.insert(ready_.begin(), back.begin(), back.end());
    link.inflight.clear();
    if (link.fd >= 0) Count([](Stats& st) { ++st.disconnects; });
    CloseSocket(link);
  }

  // At Stop: unbind every bound link at once, then wait up to kUnbindWaitMs in all for the
  // answers (answers to submits still in flight are recorded on the way).
  void Shutdown() {
    std::vector<Link*> unbinding;
    for (Link& link : links_) {
      if (link.state == LinkState::kBound && Send(link, HeaderPdu(UNBIND, 0, NextSeq(link))).ok()) {
        unbinding.push_back(&link);
      }
    }
    const SteadyTime until = SteadyClock::now() + milliseconds(kUnbindWaitMs);
    for (Link* link : unbinding) {
      while (SteadyClock::now() < until) {
        absl::StatusOr<std::optional<std::string>> next = NextPdu(*link, until);
        if (!next.ok() || !next->has_value()) break;
        if (ReadU32(**next, 4) == UNBIND_RESP) break;
        if (!Dispatch(*link, **next).ok()) break;
      }
    }
    FlushAccepted();
    for (Link& link : links_) {
      link.inflight.clear();
      CloseSocket(link);
    }
  }

  static uint32_t NextSeq(Link& link) {
    if (++link.seq > kMaxSequence) link.seq = 1;
    return link.seq;
  }

  // --- work ---------------------------------------------------------------------------------

  // Loads pending records not yet in memory (up to `batch` in memory), resolving each
  // customer's mobile number and splitting the text into segments.
  void LoadWork() {
    if (jobs_.size() >= static_cast<size_t>(options_.batch)) return;
    const int limit = static_cast<int>(jobs_.size()) + options_.batch;
    absl::StatusOr<std::vector<SmppOutboundRow>> rows = repo_->Pending(0, limit);
    if (!rows.ok()) {
      Log(Severity::kError, "smpp: reading pending records failed",
          {{"error", std::string(rows.status().message())}});
      return;
    }
    more_pending_ = static_cast<int>(rows->size()) >= limit;
    for (SmppOutboundRow& r : *rows) {
      if (jobs_.size() >= static_cast<size_t>(options_.batch)) {
        more_pending_ = true;
        break;
      }
      if (jobs_.count(r.message_id) != 0) continue;
      absl::StatusOr<std::optional<CustomerRecord>> c = customers_->FindByExternalId(r.customer);
      if (!c.ok()) {
        Log(Severity::kError, "smpp: reading a customer failed",
            {{"message.id", std::to_string(r.message_id)},
             {"error", std::string(c.status().message())}});
        continue;  // tried again at the next load
      }
      if (!c->has_value() || (*c)->erased || (*c)->phone.empty()) {
        FailMessage(r.message_id, "no mobile number");
        continue;
      }
      Job job;
      job.message_id = r.message_id;
      job.dest = NationalNumber((*c)->phone);
      // The concatenation reference is the message id's low byte: a segment submitted again
      // carries the same header as before.
      const uint8_t ref = static_cast<uint8_t>(r.message_id & 0xFF);
      SmsEncoding enc = EncodeSms(r.body, ref, options_.gsm7);
      if (!r.accepted.empty() && static_cast<size_t>(r.segments) != enc.parts.size()) {
        // Parts were accepted in the other encoding (a record from before GSM-7 or before a
        // change of smpp.gsm7): keep to it so that the remaining parts fit the accepted ones.
        SmsEncoding other = EncodeSms(
            r.body, ref, options_.gsm7 == Gsm7Mode::kAuto ? Gsm7Mode::kNever : Gsm7Mode::kAuto);
        if (static_cast<size_t>(r.segments) == other.parts.size()) enc = std::move(other);
      }
      job.data_coding = enc.data_coding;
      job.parts = std::move(enc.parts);
      if (job.parts.empty()) {
        FailMessage(r.message_id, "text too long (more than 255 segments)");
        continue;
      }
      job.accepted.assign(job.parts.size(), false);
      for (int32_t seg : r.accepted) {
        if (seg >= 1 && static_cast<size_t>(seg) <= job.parts.size()) {
          job.accepted[static_cast<size_t>(seg - 1)] = true;
        }
      }
      bool any = false;
      for (size_t k = 0; k < job.parts.size(); ++k) {
        if (!job.accepted[k]) {
          ready_.push_back({r.message_id, static_cast<int32_t>(k)});
          any = true;
        }
      }
      if (!any) {
        // Every segment was accepted but the record was not marked (cannot happen: the last
        // accepted segment marks it in the same transaction); mark it now.
        const int32_t total = static_cast<int32_t>(job.parts.size());
        (void)repo_->AcceptSegments({{r.message_id, total, total, ""}}, clock_->NowMs());
        continue;
      }
      jobs_.emplace(r.message_id, std::move(job));
    }
  }

  void FailMessage(int64_t message_id, const std::string& reason) {
    absl::StatusOr<bool> changed = repo_->Fail(message_id, reason, clock_->NowMs());
    if (!changed.ok()) {
      Log(Severity::kError, "smpp: failing a message failed",
          {{"message.id", std::to_string(message_id)},
           {"error", std::string(changed.status().message())}});
      return;
    }
    if (*changed) {
      ReceiptRow r;
      r.message_id = message_id;
      r.status = "failed";
      r.reason = reason;
      r.occurred_ms = clock_->NowMs();
      r.recorded_ms = r.occurred_ms;
      r.recorded_by = "smpp:" + options_.system_id;
      (void)receipts_->RecordReceipt(r);
      Count([](Stats& st) { ++st.failed; });
      Log(Severity::kWarn, "smpp: message failed",
          {{"message.id", std::to_string(message_id)}, {"error", reason}});
    }
    jobs_.erase(message_id);
  }

  // Commits the segments accepted since the last flush. A failure is logged: those segments
  // stay accepted in this process, and are submitted again only after a restart (at least
  // once).
  void FlushAccepted() {
    if (accepts_.empty()) return;
    absl::StatusOr<std::vector<int64_t>> done = repo_->AcceptSegments(accepts_, clock_->NowMs());
    if (!done.ok()) {
      Log(Severity::kError, "smpp: recording accepted segments failed",
          {{"segments", std::to_string(accepts_.size())},
           {"error", std::string(done.status().message())}});
    }
    accepts_.clear();
  }

  // Hands the queued segments to the bound links with room in their window, one at a time in
  // turn (starting one link further each pass), so that traffic spreads over every live bind;
  // each link's PDUs of this pass are written at once.
  void FillWindows() {
    const SteadyTime now = SteadyClock::now();
    std::vector<std::string> out(links_.size());
    const size_t n = links_.size();
    const size_t first = next_link_++ % n;
    bool progress = true;
    while (!ready_.empty() && progress) {
      progress = false;
      for (size_t k = 0; k < n && !ready_.empty(); ++k) {
        Link& link = links_[(first + k) % n];
        if (link.state != LinkState::kBound || link.paused_until > now ||
            link.inflight.size() >= static_cast<size_t>(options_.window)) {
          continue;
        }
        absl::StatusOr<std::string> pdu = NextSubmit(link);
        if (!pdu.ok()) {
          LinkFailed(link, pdu.status());
          continue;
        }
        out[link.index] += *pdu;
        progress = true;
      }
    }
    for (Link& link : links_) {
      if (out[link.index].empty() || link.state != LinkState::kBound) continue;
      absl::Status s = Send(link, out[link.index]);
      if (!s.ok()) LinkFailed(link, s);
    }
  }

  // The submit_sm of the next queued segment not accepted yet, in flight on `link`; "" when the
  // queue held only segments accepted meanwhile.
  absl::StatusOr<std::string> NextSubmit(Link& link) {
    while (!ready_.empty()) {
      const Ready r = ready_.front();
      ready_.pop_front();
      auto it = jobs_.find(r.message_id);
      if (it == jobs_.end() || it->second.accepted[static_cast<size_t>(r.segment)]) continue;
      const Job& job = it->second;
      const std::string& part = job.parts[static_cast<size_t>(r.segment)];
      submit_sm_t s;
      std::memset(&s, 0, sizeof s);
      s.command_id = SUBMIT_SM;
      s.sequence_number = NextSeq(link);
      s.source_addr_ton = options_.source_addr_ton;
      s.source_addr_npi = options_.source_addr_npi;
      CopyCString(s.source_addr, options_.source_addr);
      s.dest_addr_ton = options_.dest_addr_ton;
      s.dest_addr_npi = options_.dest_addr_npi;
      CopyCString(s.destination_addr, job.dest);
      s.esm_class = job.parts.size() > 1 ? kEsmClassUdhi : 0;
      s.registered_delivery = options_.registered_delivery ? SMPP34_DELIVERY_RECEIPT_ON : 0;
      s.data_coding = job.data_coding;
      s.sm_length = static_cast<uint8_t>(part.size());
      std::memcpy(s.short_message, part.data(), part.size());
      absl::StatusOr<std::string> pdu = Pack(SUBMIT_SM, s);
      if (!pdu.ok()) {
        ready_.push_front(r);
        return pdu.status();
      }
      link.inflight[s.sequence_number] = {r.message_id, r.segment, SteadyClock::now()};
      Count([](Stats& st) { ++st.submits; });
      return pdu;
    }
    return std::string();
  }

  absl::Status MaybeEnquireLink(Link& link) {
    const SteadyTime now = SteadyClock::now();
    if (link.enquire_seq != 0 ||
        now - link.last_received < milliseconds(options_.enquire_link_ms)) {
      return absl::OkStatus();
    }
    link.enquire_seq = NextSeq(link);
    link.inflight[link.enquire_seq] = {0, 0, now};
    Count([](Stats& st) { ++st.enquire_links_sent; });
    return Send(link, HeaderPdu(ENQUIRE_LINK, 0, link.enquire_seq));
  }

  absl::Status CheckTimeouts(const Link& link) const {
    const SteadyTime now = SteadyClock::now();
    for (const auto& [seq, f] : link.inflight) {
      if (now - f.sent >= milliseconds(options_.response_timeout_ms)) {
        return absl::DeadlineExceededError(fmt::format("smpp: no answer to request {} within {} ms",
                                                       seq, options_.response_timeout_ms));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadAndDispatch(Link& link) {
    absl::Status s = ReadSome(link);
    while (s.ok()) {
      absl::StatusOr<std::optional<std::string>> pdu = NextPdu(link, SteadyClock::now());
      if (!pdu.ok()) {
        s = pdu.status();
      } else if (!pdu->has_value()) {
        break;
      } else {
        s = Dispatch(link, **pdu);
      }
    }
    FlushAccepted();  // the answers of this pass in one transaction
    return s;
  }

  absl::Status Dispatch(Link& link, const std::string& pdu) {
    link.last_received = SteadyClock::now();
    const uint32_t id = ReadU32(pdu, 4);
    const uint32_t status = ReadU32(pdu, 8);
    const uint32_t seq = ReadU32(pdu, 12);
    if (link.state == LinkState::kBinding) return OnBindAnswer(link, id, status);
    switch (id) {
      case SUBMIT_SM_RESP:
        return OnSubmitResp(link, pdu, status, seq);
      case GENERIC_NACK:
        if (link.inflight.count(seq) != 0 && link.inflight[seq].message_id != 0) {
          return OnSubmitResp(link, "", status == ESME_ROK ? ESME_RUNKNOWNERR : status, seq);
        }
        link.inflight.erase(seq);
        if (seq == link.enquire_seq) link.enquire_seq = 0;
        return absl::OkStatus();
      case ENQUIRE_LINK_RESP:
        link.inflight.erase(seq);
        if (seq == link.enquire_seq) link.enquire_seq = 0;
        return absl::OkStatus();
      case ENQUIRE_LINK:
        Count([](Stats& st) { ++st.enquire_links_answered; });
        return Send(link, HeaderPdu(ENQUIRE_LINK_RESP, ESME_ROK, seq));
      case UNBIND:
        (void)Send(link, HeaderPdu(UNBIND_RESP, ESME_ROK, seq));
        return absl::UnavailableError("smpp: the SMSC unbound");
      case DELIVER_SM:
        return OnDeliver(link, pdu, seq);
      case DATA_SM:
      default:
        if ((id & 0x80000000U) != 0) return absl::OkStatus();  // an unexpected response
        return Send(link, HeaderPdu(GENERIC_NACK, ESME_RINVCMDID, seq));
    }
  }

  absl::Status OnSubmitResp(Link& link, const std::string& pdu, uint32_t status, uint32_t seq) {
    auto it = link.inflight.find(seq);
    if (it == link.inflight.end()) return absl::OkStatus();  // answered after a timeout: ignored
    const InFlight f = it->second;
    link.inflight.erase(it);
    auto job = jobs_.find(f.message_id);
    if (job == jobs_.end()) return absl::OkStatus();
    if (status == ESME_ROK) {
      std::string smsc_id;
      // libsmpp34 reads the message id up to its NUL whatever the PDU's length (smpp_pdu.cc):
      // only a body that has one within the field's 65 octets is handed to it.
      submit_sm_resp_t r;
      if (pdu.size() > kHeaderBytes && pdu.find('\0', kHeaderBytes) < kHeaderBytes + 65 &&
          Unpack(SUBMIT_SM_RESP, r, pdu).ok()) {
        smsc_id = CString(r.message_id, sizeof r.message_id);
      }
      if (smsc_id.empty()) smsc_id = fmt::format("unknown:{}:{}", f.message_id, f.segment + 1);
      link.throttle_streak = 0;
      // Recorded with the other answers of this pass in one transaction (FlushAccepted).
      accepts_.push_back(
          {f.message_id, f.segment + 1, static_cast<int32_t>(job->second.parts.size()), smsc_id});
      job->second.accepted[static_cast<size_t>(f.segment)] = true;
      Count([](Stats& st) { ++st.accepted; });
      if (std::all_of(job->second.accepted.begin(), job->second.accepted.end(),
                      [](bool b) { return b; })) {
        jobs_.erase(job);
      }
      return absl::OkStatus();
    }
    if (IsThrottle(status)) {
      // The SMSC asks this bind for less: pause its submits; the segment goes back to the front
      // of the queue, for the first link with room (this one after the pause).
      ++link.throttle_streak;
      const int64_t delay =
          Backoff(options_.throttle_base_ms, options_.throttle_max_ms, link.throttle_streak);
      link.paused_until = SteadyClock::now() + milliseconds(delay);
      ready_.push_front({f.message_id, f.segment});
      Count([](Stats& st) { ++st.throttled; });
      return absl::OkStatus();
    }
    FailMessage(f.message_id, "submit_sm: " + CommandStatusName(status));
    return absl::OkStatus();
  }

  absl::Status OnDeliver(Link& link, const std::string& pdu, uint32_t seq) {
    absl::StatusOr<InboundDeliver> d = DecodeDeliverSm(pdu);
    if (!d.ok()) {
      Log(Severity::kWarn, "smpp: malformed deliver_sm",
          {{"error", std::string(d.status().message())}});
      return Send(link, HeaderPdu(DELIVER_SM_RESP, ESME_RSYSERR, seq));
    }
    absl::Status stored;
    if (d->receipt) {
      Count([](Stats& st) { ++st.receipts; });
      stored = OnReceipt(d->receipt_fields);
    } else {
      Count([](Stats& st) { ++st.replies; });
      stored = OnReply(d->source_addr, d->text);
    }
    if (!stored.ok()) {
      Log(Severity::kError, "smpp: storing a deliver_sm failed",
          {{"error", std::string(stored.message())}});
      return Send(link, HeaderPdu(DELIVER_SM_RESP, kEsmeRxTAppn, seq));
    }
    deliver_sm_resp_t resp;
    std::memset(&resp, 0, sizeof resp);
    resp.command_id = DELIVER_SM_RESP;
    resp.sequence_number = seq;
    ASSIGN_OR_RETURN(std::string out, Pack(DELIVER_SM_RESP, resp));
    return Send(link, out);
  }

  absl::Status OnReceipt(const ReceiptText& r) {
    FlushAccepted();  // the receipt's segment must be on record
    const std::string_view outcome = ReceiptOutcome(r.stat);
    if (r.id.empty() || outcome.empty()) return absl::OkStatus();  // nothing final to record
    const std::string reason =
        outcome == "failed" ? fmt::format("stat:{} err:{}", r.stat, r.err.empty() ? "-" : r.err)
                            : "";
    ASSIGN_OR_RETURN(SmppReceiptEffect effect, repo_->RecordSegmentReceipt(r.id, outcome, reason));
    if (!effect.found) {
      Log(Severity::kWarn, "smpp: receipt for an unknown message id", {{"smsc.id", r.id}});
      return absl::OkStatus();
    }
    if (!effect.complete) return absl::OkStatus();
    ReceiptRow row;
    row.message_id = effect.message_id;
    row.status = effect.status;
    row.reason = effect.reason;
    row.occurred_ms = clock_->NowMs();
    row.recorded_ms = row.occurred_ms;
    row.recorded_by = "smpp:" + options_.system_id;
    return receipts_->RecordReceipt(row).status();
  }

  absl::Status OnReply(const std::string& source, const std::string& text) {
    if (!IsOptOutReply(text)) return absl::OkStatus();
    const std::string phone = NationalNumber(source);
    if (phone.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<CustomerRecord> found,
                     customers_->FindByPii(PiiLookup::kPhone, phone, 20));
    for (const CustomerRecord& c : found) {
      OptOutRow o;
      o.customer = c.external_id;
      o.channel = "sms";
      o.source = "sms_reply";
      o.recorded_by = "smpp:" + options_.system_id;
      o.created_ms = clock_->NowMs();
      RETURN_IF_ERROR(outreach_->AddOptOut(o));
      auth::AuditEvent e;
      e.actor = o.recorded_by;
      e.action = "contact.opt_out";
      e.object_type = "customer";
      e.object_id = c.external_id;
      e.detail = R"({"channel":"sms","source":"sms_reply"})";
      RETURN_IF_ERROR(audit_->Append(e));
      Count([](Stats& st) { ++st.opt_outs; });
    }
    return absl::OkStatus();
  }

  SmppRepository* const repo_;
  WebhookRepository* const receipts_;
  OutreachRepository* const outreach_;
  CustomerRepository* const customers_;
  auth::AuditLog* const audit_;
  const Clock* const clock_;
  const SmppOptions options_;

  const int wake_fd_;  // written by Wake, read by the session thread
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  SmppChannel::Observer observer_ ABSL_GUARDED_BY(mu_);

  // Owned by the session thread. The links share one queue of segments (ready_) and the
  // messages in memory (jobs_); each keeps its own window (Link::inflight).
  std::vector<Link> links_;
  size_t next_link_ = 0;       // FillWindows starts with this link (round robin)
  bool load_now_ = true;       // read pending records at the next pass
  bool more_pending_ = false;  // the last read of pending records stopped at its limit
  SteadyTime next_observe_ = SteadyClock::now();
  std::map<int64_t, Job> jobs_;
  std::deque<Ready> ready_;
  std::vector<SmppRepository::Accepted> accepts_;  // not yet committed (FlushAccepted)
};

SmppChannel::SmppChannel(SmppRepository* repo, WebhookRepository* receipts,
                         OutreachRepository* outreach, CustomerRepository* customers,
                         auth::AuditLog* audit, const Clock* clock, SmppOptions options)
    : session_(std::make_unique<Session>(repo, receipts, outreach, customers, audit, clock,
                                         std::move(options))),
      repo_(repo),
      clock_(clock) {}

SmppChannel::~SmppChannel() = default;

absl::StatusOr<Delivery> SmppChannel::Deliver(const OutboundMessage& m) {
  RETURN_IF_ERROR(repo_->Enqueue(m.message_id, m.channel, clock_->NowMs()));
  session_->Wake();
  Delivery d;
  d.gateway_id = "smpp:" + std::to_string(m.message_id);
  return d;
}

absl::StatusOr<int64_t> SmppChannel::Adopt() { return repo_->Adopt({"sms"}, clock_->NowMs()); }
absl::Status SmppChannel::Start() { return session_->Start(); }
void SmppChannel::Stop() { session_->Stop(); }
void SmppChannel::Wake() { session_->Wake(); }
SmppChannel::Stats SmppChannel::stats() const { return session_->stats(); }
void SmppChannel::SetObserver(Observer observer) { session_->SetObserver(std::move(observer)); }
const SmppOptions& SmppChannel::options() const { return session_->options(); }

}  // namespace mercator::outreach
