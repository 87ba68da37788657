// The broker's producers or consumers by id, indexed by topic as well.
//
// Why: registering a client checks its topic's other clients (the same
// name, an exclusive producer), and a topic's delete drops them. A scan of
// every client of the broker did that, under Broker::mu_, so with 10,000
// topics each CreateProducer cost O(clients) and held every other call on
// that mutex (publish, acks, heartbeats) back meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace frazil::broker {

// `State` has a `std::string topic`, which must not change while the state
// is in the table (the index is keyed by it).
template <typename State>
class ClientTable {
 public:
  using Map = std::map<uint64_t, State>;
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;

  iterator begin() { return by_id_.begin(); }
  iterator end() { return by_id_.end(); }
  const_iterator begin() const { return by_id_.begin(); }
  const_iterator end() const { return by_id_.end(); }
  size_t size() const { return by_id_.size(); }
  iterator find(uint64_t id) { return by_id_.find(id); }

  // Adds or replaces the client `id`.
  iterator Insert(uint64_t id, State state) {
    if (auto it = by_id_.find(id); it != by_id_.end()) Erase(it);
    by_topic_[state.topic].insert(id);
    return by_id_.emplace(id, std::move(state)).first;
  }

  // Returns the iterator after `it`.
  iterator Erase(iterator it) {
    if (auto t = by_topic_.find(it->second.topic); t != by_topic_.end()) {
      t->second.erase(it->first);
      if (t->second.empty()) by_topic_.erase(t);
    }
    return by_id_.erase(it);
  }

  void Erase(uint64_t id) {
    if (auto it = by_id_.find(id); it != by_id_.end()) Erase(it);
  }

  // The ids of `topic`'s clients, ascending (a copy: callers may erase).
  std::vector<uint64_t> IdsOf(const std::string& topic) const {
    auto t = by_topic_.find(topic);
    if (t == by_topic_.end()) return {};
    return {t->second.begin(), t->second.end()};
  }

  void EraseTopic(const std::string& topic) {
    for (uint64_t id : IdsOf(topic)) by_id_.erase(id);
    by_topic_.erase(topic);
  }

 private:
  Map by_id_;
  std::map<std::string, std::set<uint64_t>, std::less<>> by_topic_;
};

}  // namespace frazil::broker
