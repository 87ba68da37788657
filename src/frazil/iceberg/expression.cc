#include "frazil/iceberg/expression.h"

#include "frazil/iceberg/bounds.h"

namespace frazil::iceberg {
namespace {

bool IntegerLike(TypeId id) {
  switch (id) {
    case TypeId::kInt:
    case TypeId::kLong:
    case TypeId::kDate:
    case TypeId::kTime:
    case TypeId::kTimestamp:
    case TypeId::kTimestampTz:
    case TypeId::kTimestampNs:
    case TypeId::kTimestampTzNs:
      return true;
    default:
      return false;
  }
}

// Transforms that never decrease: a range on the source maps to the range
// between the transformed ends.
bool Monotonic(const Transform& t, TypeId source) {
  switch (t.kind) {
    case TransformKind::kIdentity:
    case TransformKind::kYear:
    case TransformKind::kMonth:
    case TransformKind::kDay:
    case TransformKind::kHour:
      return true;
    case TransformKind::kTruncate:
      return source == TypeId::kInt || source == TypeId::kLong;
    default:
      return false;
  }
}

std::optional<int64_t> Project(const Transform& t, const Type& source, std::optional<int64_t> v) {
  if (!v) return std::nullopt;
  Value in;
  in.l = *v;
  auto out = t.Apply(source, in);
  if (!out.ok() || !out.value()) return std::nullopt;
  return out.value()->l;
}

bool Overlaps(std::optional<int64_t> lo, std::optional<int64_t> hi, const ColumnRange& r) {
  if (r.min && hi && *hi < *r.min) return false;
  if (r.max && lo && *lo > *r.max) return false;
  return true;
}

// The partition-value range a column range implies for partition field
// `pf`, or nullopt when the field says nothing about the range.
std::optional<ColumnRange> PartitionRange(const ColumnRange& r, const PartitionField& pf,
                                          const Schema& schema) {
  if (r.field_id == pf.field_id) return r;
  if (r.field_id != pf.source_id) return std::nullopt;
  const NestedField* source = schema.FindField(pf.source_id);
  if (!source || !Monotonic(pf.transform, source->type->id)) return std::nullopt;
  ColumnRange out{pf.field_id, Project(pf.transform, *source->type, r.min),
                  Project(pf.transform, *source->type, r.max)};
  return out;
}

std::optional<int64_t> DecodeBound(const std::map<int32_t, std::string>& bounds, int32_t id,
                                   const Type& type) {
  auto it = bounds.find(id);
  if (it == bounds.end()) return std::nullopt;
  auto v = FromBound(type, it->second);
  if (!v.ok()) return std::nullopt;  // unreadable bounds never prune
  return v->l;
}

}  // namespace

Status RowFilter::Validate(const TableMetadata& metadata) const {
  const Schema* schema = metadata.CurrentSchema();
  for (const auto& r : ranges_) {
    if (r.field_id >= 1000) {
      bool found = false;
      for (const auto& spec : metadata.partition_specs)
        for (const auto& pf : spec.fields) found |= pf.field_id == r.field_id;
      if (found) continue;
    }
    const NestedField* f = schema ? schema->FindField(r.field_id) : nullptr;
    if (!f) return Status::InvalidArgument("filter on unknown field id " + std::to_string(r.field_id));
    if (!IntegerLike(f->type->id))
      return Status::InvalidArgument("range filters need an integer-like column; " + f->name + " is " +
                                     f->type->ToString());
  }
  return Status::Ok();
}

bool RowFilter::ManifestMightMatch(const ManifestFile& manifest, const PartitionSpec& spec,
                                   const std::vector<NestedField>& partition_type,
                                   const Schema& schema) const {
  for (const auto& r : ranges_) {
    for (size_t i = 0; i < spec.fields.size() && i < manifest.partitions.size() && i < partition_type.size();
         ++i) {
      auto pr = PartitionRange(r, spec.fields[i], schema);
      if (!pr) continue;
      const auto& sum = manifest.partitions[i];
      if (!sum.lower_bound || !sum.upper_bound) {
        // Only nulls (or no files): a range never matches a null.
        if (manifest.added_files_count + manifest.existing_files_count > 0 && sum.contains_null &&
            !sum.lower_bound)
          return false;
        continue;
      }
      const Type& t = *partition_type[i].type;
      if (!IntegerLike(t.id)) continue;
      auto lo = FromBound(t, *sum.lower_bound), hi = FromBound(t, *sum.upper_bound);
      if (!lo.ok() || !hi.ok()) continue;
      if (!Overlaps(lo->l, hi->l, *pr)) return false;
    }
  }
  return true;
}

bool RowFilter::FileMightMatch(const DataFile& file, const PartitionSpec& spec, const Schema& schema) const {
  for (const auto& r : ranges_) {
    for (size_t i = 0; i < spec.fields.size() && i < file.partition.size(); ++i) {
      auto pr = PartitionRange(r, spec.fields[i], schema);
      if (!pr) continue;
      const auto& v = file.partition[i];
      if (!v) return false;  // a null partition value holds only null source values
      if (!Overlaps(v->l, v->l, *pr)) return false;
    }
    if (r.field_id >= 1000 && !schema.FindField(r.field_id)) continue;
    const NestedField* f = schema.FindField(r.field_id);
    if (!f) continue;
    // A column of only nulls matches no range.
    auto nulls = file.null_value_counts.find(r.field_id);
    auto values = file.value_counts.find(r.field_id);
    if (nulls != file.null_value_counts.end() && values != file.value_counts.end() &&
        nulls->second == values->second && values->second > 0)
      return false;
    auto lo = DecodeBound(file.lower_bounds, r.field_id, *f->type);
    auto hi = DecodeBound(file.upper_bounds, r.field_id, *f->type);
    if (!Overlaps(lo, hi, r)) return false;
  }
  return true;
}

bool RowFilter::FileMatchesAll(const DataFile& file, const Schema& schema) const {
  for (const auto& r : ranges_) {
    const NestedField* f = schema.FindField(r.field_id);
    if (!f) return false;
    auto nulls = file.null_value_counts.find(r.field_id);
    if (nulls == file.null_value_counts.end() || nulls->second != 0) return false;  // nulls never match
    auto lo = DecodeBound(file.lower_bounds, r.field_id, *f->type);
    auto hi = DecodeBound(file.upper_bounds, r.field_id, *f->type);
    if (r.min && (!lo || *lo < *r.min)) return false;
    if (r.max && (!hi || *hi > *r.max)) return false;
  }
  return true;
}

}  // namespace frazil::iceberg
