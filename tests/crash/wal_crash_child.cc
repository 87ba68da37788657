// Appends under sync=always (or FRAZIL_CRASH_SYNC: none, journal) from several threads until killed, writing
// each acknowledged offset (8 bytes, little-endian) to stdout only after the WAL said it is durable.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "crash_payload.h"
#include "frazil/common/coding.h"
#include "frazil/wal/write_ahead_log.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: wal_crash_child DIR\n");
    return 2;
  }
  std::unique_ptr<frazil::wal::Journal> journal;
  if (frazil::crashtest::CrashUsesJournal()) {
    auto j = frazil::crashtest::OpenCrashJournal(argv[1]);
    if (!j.ok()) {
      std::fprintf(stderr, "journal: %s\n", j.status().ToString().c_str());
      return 3;
    }
    journal = std::move(j).value();
  }
  auto wal_or = frazil::wal::WriteAheadLog::Open(frazil::crashtest::CrashWalOptions(argv[1], journal.get()));
  if (!wal_or.ok()) {
    std::fprintf(stderr, "open: %s\n", wal_or.status().ToString().c_str());
    return 3;
  }
  auto wal = std::move(wal_or).value();
  if (journal && !journal->FinishRecovery().ok()) return 3;
  std::mutex out_mu;
  auto report = [&](uint64_t offset) {
    uint8_t buf[8];
    frazil::EncodeFixed64(buf, offset);
    std::lock_guard lk(out_mu);
    if (::write(1, buf, 8) != 8) std::_Exit(4);
  };
  // Payloads depend on offsets, which are assigned inside Append; so each
  // thread reserves by appending the payload of the offset it expects next
  // under a lock. The lock serializes assignment only, not the fdatasync.
  std::mutex assign_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        frazil::Result<frazil::wal::AppendTicket> ticket = frazil::Status::Internal("unset");
        {
          std::lock_guard lk(assign_mu);
          uint64_t next = wal->Stats().next_offset;
          ticket = wal->AppendWithFuture(frazil::crashtest::PayloadFor(next));
          if (ticket.ok() && ticket->offset != next) std::_Exit(5);
        }
        if (!ticket.ok()) std::_Exit(6);
        if (!ticket->acknowledged.get().ok()) std::_Exit(7);
        report(ticket->offset);
      }
    });
  }
  for (auto& t : threads) t.join();
}
