// A generic Avro value, shaped by its schema. Manifests are small, so a
// tree of values is simple and fast enough.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frazil::avro {

struct Datum {
  // Which member holds the value follows from the schema: b (boolean), i
  // (int, long, enum index), d (float, double), s (bytes, string, fixed),
  // items (array elements, record fields in schema order, map values),
  // keys (map keys, one per value), and for a union: branch + items[0].
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<Datum> items;
  std::vector<std::string> keys;
  int32_t branch = -1;

  static Datum Null() { return {}; }
  static Datum Bool(bool v) {
    Datum x;
    x.b = v;
    return x;
  }
  static Datum Long(int64_t v) {
    Datum x;
    x.i = v;
    return x;
  }
  static Datum Double(double v) {
    Datum x;
    x.d = v;
    return x;
  }
  static Datum Bytes(std::string v) {
    Datum x;
    x.s = std::move(v);
    return x;
  }
  static Datum Record(std::vector<Datum> fields) {
    Datum x;
    x.items = std::move(fields);
    return x;
  }
  static Datum Array(std::vector<Datum> elems) {
    Datum x;
    x.items = std::move(elems);
    return x;
  }
  static Datum Union(int32_t branch, Datum v) {
    Datum x;
    x.branch = branch;
    x.items.push_back(std::move(v));
    return x;
  }
};

}  // namespace frazil::avro
