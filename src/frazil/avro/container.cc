#include "frazil/avro/container.h"

#include <zlib.h>

#include <cstring>

#include "frazil/avro/binary_codec.h"
#include "frazil/common/random_id.h"

namespace frazil::avro {
namespace {

constexpr uint8_t kMagic[4] = {'O', 'b', 'j', 1};
constexpr size_t kMaxBlockBytes = 256u << 20;

Status Deflate(std::span<const uint8_t> in, std::vector<uint8_t>* out) {
  z_stream zs{};
  // windowBits -15: raw deflate, no zlib header or checksum.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflate init failed");
  }
  out->resize(deflateBound(&zs, in.size()));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out->data();
  zs.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&zs, Z_FINISH);
  out->resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("deflate failed");
  return Status::Ok();
}

Status Inflate(std::span<const uint8_t> in, std::vector<uint8_t>* out) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return Status::Internal("inflate init failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  uint8_t buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status::Corruption("avro: deflate block is corrupt");
    }
    out->insert(out->end(), buf, buf + (sizeof buf - zs.avail_out));
    if (out->size() > kMaxBlockBytes) {
      inflateEnd(&zs);
      return Status::Corruption("avro: deflate block inflates past 256 MiB");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status::Corruption("avro: deflate block is truncated");
    }
  }
  inflateEnd(&zs);
  return Status::Ok();
}

}  // namespace

ContainerWriter::ContainerWriter(SchemaPtr schema, ContainerOptions options)
    : ContainerWriter(schema, SchemaToJson(*schema).dump(), std::move(options)) {}

ContainerWriter::ContainerWriter(SchemaPtr schema, std::string schema_json, ContainerOptions options)
    : schema_(std::move(schema)), options_(std::move(options)) {
  // Not std::random_device: constructing one per file (a manifest and a
  // manifest list per commit) showed in the commit threads' profile.
  RandomBytes(sync_);
  out_.insert(out_.end(), kMagic, kMagic + 4);
  std::map<std::string, std::string> meta = std::move(options_.metadata);
  options_.metadata.clear();
  meta["avro.schema"] = std::move(schema_json);
  meta["avro.codec"] = options_.codec == Codec::kDeflate ? "deflate" : "null";
  WriteLong(static_cast<int64_t>(meta.size()), &out_);
  for (const auto& [k, v] : meta) {
    WriteBytes(k, &out_);
    WriteBytes(v, &out_);
  }
  out_.push_back(0);
  out_.insert(out_.end(), sync_, sync_ + 16);
}

Status ContainerWriter::Append(const Datum& record) {
  if (finished_) return Status::Closed("avro container already finished");
  FRAZIL_RETURN_IF_ERROR(Encode(*schema_, record, &block_));
  ++block_count_;
  if (block_.size() >= options_.block_bytes) return FlushBlock();
  return Status::Ok();
}

Status ContainerWriter::FlushBlock() {
  if (block_count_ == 0) return Status::Ok();
  std::vector<uint8_t> payload;
  if (options_.codec == Codec::kDeflate) {
    FRAZIL_RETURN_IF_ERROR(Deflate(block_, &payload));
  } else {
    payload.swap(block_);
  }
  WriteLong(block_count_, &out_);
  WriteLong(static_cast<int64_t>(payload.size()), &out_);
  out_.insert(out_.end(), payload.begin(), payload.end());
  out_.insert(out_.end(), sync_, sync_ + 16);
  block_.clear();
  block_count_ = 0;
  return Status::Ok();
}

Result<std::vector<uint8_t>> ContainerWriter::Finish() {
  if (finished_) return Status::Closed("avro container already finished");
  FRAZIL_RETURN_IF_ERROR(FlushBlock());
  finished_ = true;
  return std::move(out_);
}

Result<ContainerFile> ReadContainer(std::span<const uint8_t> data) {
  if (data.size() < 4 || std::memcmp(data.data(), kMagic, 4) != 0)
    return Status::Corruption("not an Avro container file (bad magic)");
  Decoder d(data.subspan(4));
  ContainerFile file;
  for (;;) {
    int64_t n;
    FRAZIL_RETURN_IF_ERROR(d.ReadLong(&n));
    if (n == 0) break;
    if (n < 0) {
      if (n == INT64_MIN) return Status::Corruption("avro: bad metadata block count");
      int64_t bytes;
      FRAZIL_RETURN_IF_ERROR(d.ReadLong(&bytes));
      n = -n;
    }
    if (n > 10000) return Status::Corruption("avro: implausible metadata entry count");
    for (int64_t k = 0; k < n; ++k) {
      std::string key, value;
      FRAZIL_RETURN_IF_ERROR(d.ReadBytes(&key));
      FRAZIL_RETURN_IF_ERROR(d.ReadBytes(&value));
      file.metadata[key] = std::move(value);
    }
  }
  auto it = file.metadata.find("avro.schema");
  if (it == file.metadata.end()) return Status::Corruption("avro: header has no avro.schema");
  file.schema_json = it->second;
  auto schema = ParseSchema(file.schema_json);
  if (!schema.ok()) return schema.status().WithContext("avro header schema");
  file.schema = *schema;
  Codec codec = Codec::kNull;
  if (auto c = file.metadata.find("avro.codec"); c != file.metadata.end()) {
    if (c->second == "deflate")
      codec = Codec::kDeflate;
    else if (c->second != "null")
      return Status::InvalidArgument("avro: unsupported codec '" + c->second + "'");
  }
  const size_t header_end = 4 + d.position();
  if (data.size() - header_end < 16)
    return Status::Corruption("avro: header truncated before the sync marker");
  const uint8_t* sync = data.data() + header_end;
  size_t pos = header_end + 16;
  std::vector<uint8_t> inflated;
  while (pos < data.size()) {
    Decoder bd(data.subspan(pos));
    int64_t count, size;
    FRAZIL_RETURN_IF_ERROR(bd.ReadLong(&count));
    FRAZIL_RETURN_IF_ERROR(bd.ReadLong(&size));
    pos += bd.position();
    if (count < 0 || size < 0 || static_cast<uint64_t>(size) > data.size() - pos ||
        data.size() - pos - static_cast<size_t>(size) < 16) {
      return Status::Corruption("avro: block at byte " + std::to_string(pos) +
                                " runs past the end of the file");
    }
    std::span<const uint8_t> block = data.subspan(pos, static_cast<size_t>(size));
    if (std::memcmp(data.data() + pos + size, sync, 16) != 0) {
      return Status::Corruption("avro: sync marker mismatch after the block at byte " + std::to_string(pos));
    }
    pos += static_cast<size_t>(size) + 16;
    if (codec == Codec::kDeflate) {
      FRAZIL_RETURN_IF_ERROR(Inflate(block, &inflated));
      block = inflated;
    }
    if (static_cast<uint64_t>(count) > block.size() + 1024)
      return Status::Corruption("avro: block count larger than its bytes");
    Decoder rd(block);
    for (int64_t k = 0; k < count; ++k) {
      Datum rec;
      Status st = rd.Decode(*file.schema, &rec);
      if (!st.ok()) return st.WithContext("avro record " + std::to_string(file.records.size()));
      file.records.push_back(std::move(rec));
    }
    if (!rd.AtEnd()) return Status::Corruption("avro: block has bytes after its last record");
  }
  return file;
}

}  // namespace frazil::avro
