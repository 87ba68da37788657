// What the table upkeep tests (maintenance, retention) share: a topic table
// "ns.events" on a SQLite catalog whose `records` messages, published 1 ms
// apart from kFirstPublishMs, were committed by the topic writer five per
// snapshot (one data file each).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "catalog_fixture.h"
#include "danube_api.pb.h"
#include "frazil/storage/topic_writer.h"
#include "frazil/wal/write_ahead_log.h"
#include "temp_dir.h"
#include "test_wal.h"

namespace frazil::testing {

inline constexpr int64_t kFirstPublishMs = 1700000000000;

struct CommittedTable {
  CommittedTable(const TempDir& dir, int records) {
    wal = OpenTestWal(dir);
    catalog = OpenTestCatalog(dir);
    for (int i = 0; i < records; ++i) {
      danube::StreamMessage m;
      m.set_payload("payload-" + std::to_string(i));
      m.set_publish_time(static_cast<uint64_t>(kFirstPublishMs + i));
      m.set_producer_name("p");
      std::string s = m.SerializeAsString();
      EXPECT_TRUE(wal->AppendAndWait({reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
    }
    auto w =
        storage::TopicWriter::Open(catalog.get(), id, wal.get(), storage::WriterConfig{5, 1 << 30}).value();
    while (w->CommitBatch().value() > 0) {
    }
  }
  std::unique_ptr<wal::WriteAheadLog> wal;
  std::unique_ptr<catalog::SqlCatalog> catalog;
  catalog::TableIdentifier id{{"ns"}, "events"};
};

}  // namespace frazil::testing
