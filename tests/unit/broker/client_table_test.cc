// ClientTable: clients by id with a by-topic index that stays in step with
// every insert, replace and erase.
#include "frazil/broker/client_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace frazil::broker {
namespace {

struct Client {
  std::string topic, name;
};

using Ids = std::vector<uint64_t>;

TEST(ClientTable, IndexesByTopic) {
  ClientTable<Client> t;
  t.Insert(3, {"/a", "x"});
  t.Insert(1, {"/a", "y"});
  t.Insert(2, {"/b", "z"});
  EXPECT_EQ(t.IdsOf("/a"), (Ids{1, 3}));
  EXPECT_EQ(t.IdsOf("/b"), (Ids{2}));
  EXPECT_EQ(t.IdsOf("/c"), Ids{});
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.find(3)->second.name, "x");
}

TEST(ClientTable, ReplacingAClientMovesItToItsNewTopic) {
  ClientTable<Client> t;
  t.Insert(1, {"/a", "x"});
  t.Insert(1, {"/b", "x2"});
  EXPECT_EQ(t.IdsOf("/a"), Ids{});
  EXPECT_EQ(t.IdsOf("/b"), (Ids{1}));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find(1)->second.name, "x2");
}

TEST(ClientTable, EraseKeepsTheIndexInStep) {
  ClientTable<Client> t;
  for (uint64_t id = 1; id <= 6; ++id) t.Insert(id, {id % 2 ? "/odd" : "/even", "c"});
  t.Erase(3);
  t.Erase(99);  // unknown: nothing
  EXPECT_EQ(t.IdsOf("/odd"), (Ids{1, 5}));
  // Erasing while iterating, as the janitor does.
  for (auto it = t.begin(); it != t.end();) it = it->first >= 4 ? t.Erase(it) : std::next(it);
  EXPECT_EQ(t.IdsOf("/odd"), (Ids{1}));
  EXPECT_EQ(t.IdsOf("/even"), (Ids{2}));
  EXPECT_EQ(t.size(), 2u);
}

TEST(ClientTable, EraseTopicDropsOnlyThatTopicsClients) {
  ClientTable<Client> t;
  t.Insert(1, {"/a", "x"});
  t.Insert(2, {"/a/b", "y"});  // a name that starts with the other's
  t.Insert(3, {"/a", "z"});
  t.EraseTopic("/a");
  EXPECT_EQ(t.IdsOf("/a"), Ids{});
  EXPECT_EQ(t.IdsOf("/a/b"), (Ids{2}));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find(1), t.end());
  t.Insert(1, {"/a", "again"});  // the topic can come back
  EXPECT_EQ(t.IdsOf("/a"), (Ids{1}));
}

}  // namespace
}  // namespace frazil::broker
