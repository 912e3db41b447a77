#include "etcd/bbolt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::etcd {

namespace {

constexpr std::uint32_t bolt_magic = 0xED0CDAED;
constexpr std::uint32_t bolt_version = 2;
constexpr std::size_t page_header_size = 16;
constexpr std::size_t meta_size = 64;
constexpr std::size_t element_size = 16;
constexpr std::uint16_t branch_flag = 0x01;
constexpr std::uint16_t leaf_flag = 0x02;
constexpr std::uint16_t meta_flag = 0x04;
constexpr std::uint32_t bucket_leaf_flag = 0x01;
constexpr int max_depth = 64;

std::uint64_t le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::uint16_t le16(const char* p) { return static_cast<std::uint16_t>(le(p, 2)); }
std::uint32_t le32(const char* p) { return static_cast<std::uint32_t>(le(p, 4)); }
std::uint64_t le64(const char* p) { return le(p, 8); }

std::uint64_t fnv64a(const char* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct PageHeader {
  std::uint64_t id = 0;
  std::uint16_t flags = 0;
  std::uint16_t count = 0;
  std::uint32_t overflow = 0;
};

PageHeader parse_header(std::string_view bytes) {
  return {le64(bytes.data()), le16(bytes.data() + 8), le16(bytes.data() + 10), le32(bytes.data() + 12)};
}

struct Meta {
  std::uint32_t page_size = 0;
  std::uint64_t root = 0;
  std::uint64_t high_water = 0;
  std::uint64_t txid = 0;
};

// Memory a walk reads pages into, kept from page to page: a walk of the whole file allocates
// and clears no memory per page (a page of an 8 GiB database is one of two million).
class PageBuffer {
 public:
  char* room(std::size_t n) {
    if (n > capacity_) {
      data_.reset(new char[n]);
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
};

// Where the bytes come from: a file (pread into the caller's buffer) or bytes in memory (read
// where they lie).
class Source {
 public:
  using Pread = std::function<void(std::uint64_t offset, std::size_t n, char* into)>;
  Source(std::string name, std::uint64_t size, Pread pread)
      : name_(std::move(name)), size_(size), pread_(std::move(pread)) {}
  Source(std::string name, std::string_view bytes) : name_(std::move(name)), size_(bytes.size()), bytes_(bytes) {}
  const std::string& name() const { return name_; }
  std::uint64_t size() const { return size_; }
  // `n` bytes at `offset`, valid until `buffer` is read into again.
  std::string_view read(std::uint64_t offset, std::size_t n, PageBuffer& buffer) const {
    if (offset > size_ || n > size_ - offset)
      throw core::Error(fmt::format("{}: not a whole bbolt database: {} bytes at offset {} lie past its end ({} bytes)", name_,
                              n, offset, size_));
    if (!pread_) return bytes_.substr(static_cast<std::size_t>(offset), n);
    char* into = buffer.room(n);
    pread_(offset, n, into);
    return {into, n};
  }
  std::string read(std::uint64_t offset, std::size_t n) const {
    PageBuffer buffer;
    return std::string(read(offset, n, buffer));
  }

 private:
  std::string name_;
  std::uint64_t size_;
  Pread pread_;
  std::string_view bytes_;
};

// A meta page, or why it cannot be used.
std::optional<Meta> parse_meta(std::string_view page, std::string& problem) {
  if (page.size() < page_header_size + meta_size) {
    problem = "too short";
    return std::nullopt;
  }
  const auto header = parse_header(page);
  const char* m = page.data() + page_header_size;
  if (!(header.flags & meta_flag)) {
    problem = fmt::format("not a meta page (flags {:#x})", header.flags);
    return std::nullopt;
  }
  if (le32(m) != bolt_magic) {
    problem = fmt::format("magic {:#x}, not bbolt's {:#x}", le32(m), bolt_magic);
    return std::nullopt;
  }
  if (le32(m + 4) != bolt_version) {
    problem = fmt::format("format version {}, not {}", le32(m + 4), bolt_version);
    return std::nullopt;
  }
  if (fnv64a(m, 56) != le64(m + 56)) {
    problem = "checksum mismatch";
    return std::nullopt;
  }
  Meta meta;
  meta.page_size = le32(m + 8);
  meta.root = le64(m + 16);
  meta.high_water = le64(m + 40);
  meta.txid = le64(m + 48);
  if (meta.page_size < 512 || meta.page_size > (1u << 20) || (meta.page_size & (meta.page_size - 1)) != 0) {
    problem = fmt::format("page size {}", meta.page_size);
    return std::nullopt;
  }
  return meta;
}

class Walker {
 public:
  Walker(const Source& source, const Meta& meta, BoltSummary& summary)
      : source_(source), meta_(meta), summary_(summary), seen_(meta.high_water, false) {}

  // The top-level buckets, from the root bucket's tree.
  void walk_root() {
    walk(meta_.root, 0, true, [&](const char* element, std::string_view) { root_element(element); });
  }

  // The header (its value in the root bucket) of the top-level bucket `name`, if there is one.
  std::optional<std::string> bucket_header(const std::string& name) {
    std::optional<std::string> header;
    walk(meta_.root, 0, true, [&](const char* e, std::string_view) {
      if (!(le32(e) & bucket_leaf_flag) || header) return;
      const char* key = e + le32(e + 4);
      if (std::string_view(key, le32(e + 8)) == name) header.emplace(key + le32(e + 8), le32(e + 12));
    });
    return header;
  }

  // Every pair of the bucket `name` whose header bucket_header gave, in key order.
  void walk_bucket_pairs(const std::string& name, const std::string& header, const BoltVisitor& visit) {
    walk_pairs(name, header, visit);
  }

  // Every pair of the top-level bucket `name`, in key order; false when there is none. With a
  // `filter`, a leaf page it declines is not read past its element headers, nor visited.
  bool walk_bucket(const std::string& name, const BoltVisitor& visit, const BoltLeafFilter* filter = nullptr) {
    const auto header = bucket_header(name);
    if (!header) return false;
    filter_ = filter;
    walk_pairs(name, *header, visit);
    filter_ = nullptr;
    return true;
  }

  // The subtrees under the root page of a bucket (its header), when that root is a branch:
  // their page ids in key order. Empty for a root that is a leaf or inline.
  std::vector<std::uint64_t> root_children(const std::string& name, const std::string& header) {
    if (header.size() < 16) corrupt(fmt::format("bucket {:?}", name), fmt::format("its header is {} bytes", header.size()));
    const auto root = le64(header.data());
    if (root == 0) return {};
    const Level level(*this);
    const auto page = read_page(root, true, level.buffer);
    seen_[root] = false;  // read again by the walk that takes it whole
    const auto h = parse_header(page);
    if (!(h.flags & branch_flag)) return {};
    if (h.count == 0) corrupt(root, "an empty branch page");
    check_elements(fmt::format("page {}", root), page, h, true);
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < h.count; ++i) out.push_back(le64(page.data() + page_header_size + i * element_size + 8));
    return out;
  }

  // The pairs of the subtrees `children` (under a bucket's root branch), in key order.
  void walk_subtrees(const std::vector<std::uint64_t>& children, const BoltVisitor& visit) {
    const auto pairs = pairs_of(visit);
    for (const auto child : children) walk(child, 2, true, pairs);
  }

  // The greatest key of the top-level bucket `name` (empty when the bucket is empty; nullopt
  // when there is none): its rightmost edge alone, one page a level.
  std::optional<std::string> last_key(const std::string& name) {
    const auto header = bucket_header(name);
    if (!header) return std::nullopt;
    const auto where = fmt::format("bucket {:?}", name);
    if (header->size() < 16) corrupt(where, fmt::format("its header is {} bytes", header->size()));
    std::string out;
    const auto take_last = [&](const char* e, std::string_view) { out.assign(e + le32(e + 4), le32(e + 8)); };
    const auto root = le64(header->data());
    if (root == 0) {
      PageHeader h;
      const auto inline_page = inline_leaf(where, *header, h);
      if (h.count > 0) take_last(inline_page.data() + page_header_size + (h.count - 1) * element_size, inline_page);
      return out;
    }
    std::uint64_t pgid = root;
    for (int depth = 1;; ++depth) {
      if (depth > max_depth) corrupt(pgid, "the tree is deeper than any bbolt tree can be");
      const Level level(*this);
      const auto page = read_page(pgid, true, level.buffer);
      const auto h = parse_header(page);
      if (h.flags & leaf_flag) {
        check_elements(fmt::format("page {}", pgid), page, h, false);
        if (h.count > 0) take_last(page.data() + page_header_size + (h.count - 1) * element_size, page);
        return out;
      }
      if (!(h.flags & branch_flag)) corrupt(pgid, fmt::format("neither a branch nor a leaf (flags {:#x})", h.flags));
      if (h.count == 0) corrupt(pgid, "an empty branch page");
      check_elements(fmt::format("page {}", pgid), page, h, true);
      pgid = le64(page.data() + page_header_size + (h.count - 1) * element_size + 8);
    }
  }

  // Every top-level bucket in key order, and its pairs.
  void walk_all(const BoltBucketVisitor& visit) {
    std::vector<std::pair<std::string, std::string>> headers;  // name, header
    walk(meta_.root, 0, true, [&](const char* e, std::string_view) {
      if (!(le32(e) & bucket_leaf_flag)) return;
      const char* key = e + le32(e + 4);
      const auto ksize = le32(e + 8);
      headers.emplace_back(std::string(key, ksize), std::string(key + ksize, le32(e + 12)));
    });
    for (const auto& [name, header] : headers) walk_pairs(name, header, visit(name));
  }

 private:
  using LeafVisitor = std::function<void(const char* element, std::string_view page)>;

  // What hands a leaf's elements to `visit` as pairs (a nested bucket is not a pair).
  static LeafVisitor pairs_of(const BoltVisitor& visit) {
    return [&visit](const char* e, std::string_view) {
      if (le32(e) & bucket_leaf_flag) return;
      const char* key = e + le32(e + 4);
      const auto ksize = le32(e + 8);
      visit(std::string_view(key, ksize), std::string_view(key + ksize, le32(e + 12)));
    };
  }

  // The pairs of the bucket whose header (its value in the root bucket) is `header`.
  void walk_pairs(const std::string& name, const std::string& header, const BoltVisitor& visit) {
    const auto where = fmt::format("bucket {:?}", name);
    if (header.size() < 16) corrupt(where, fmt::format("its header is {} bytes", header.size()));
    const auto pairs = pairs_of(visit);
    const auto root = le64(header.data());
    if (root != 0) {
      walk(root, 1, true, pairs);
      return;
    }
    PageHeader h;
    const auto inline_page = inline_leaf(where, header, h);
    for (std::size_t i = 0; i < h.count; ++i) pairs(inline_page.data() + page_header_size + i * element_size, inline_page);
  }

  // The inline page of a bucket whose header (its value in the root bucket) says root 0: a
  // leaf page right after the 16 bytes, inside the value; checked.
  std::string inline_leaf(const std::string& where, const std::string& header, PageHeader& h) const {
    std::string page = header.substr(16);
    if (page.size() < page_header_size) corrupt(where, "its inline page is truncated");
    h = parse_header(page);
    if (!(h.flags & leaf_flag)) corrupt(where, "its inline page is not a leaf");
    check_elements(where, page, h, false);
    return page;
  }

  [[noreturn]] void corrupt(std::uint64_t pgid, const std::string& what) const {
    corrupt(fmt::format("page {}", pgid), what);
  }
  [[noreturn]] void corrupt(const std::string& where, const std::string& what) const {
    throw core::Error(fmt::format("{}: damaged bbolt database: {}: {}", source_.name(), where, what));
  }

  // Page `pgid` (its header alone unless `whole`), read into `buffer`.
  std::string_view read_page(std::uint64_t pgid, bool whole, PageBuffer& buffer) {
    if (pgid < 2 || pgid >= meta_.high_water)
      corrupt(pgid, fmt::format("outside the pages in use (2..{})", meta_.high_water - 1));
    if (seen_[pgid]) corrupt(pgid, "reached twice: the tree has a loop");
    seen_[pgid] = true;
    const std::uint64_t offset = pgid * meta_.page_size;
    auto bytes = source_.read(offset, whole ? meta_.page_size : page_header_size, buffer);
    const auto header = parse_header(bytes);
    if (header.id != pgid) corrupt(pgid, fmt::format("its header says it is page {}", header.id));
    if (!whole || header.overflow == 0) return bytes;
    const std::uint64_t size = (std::uint64_t{header.overflow} + 1) * meta_.page_size;
    if (pgid + header.overflow >= meta_.high_water) corrupt(pgid, "its overflow runs past the pages in use");
    bytes = source_.read(offset, static_cast<std::size_t>(size), buffer);
    if (parse_header(bytes).id != pgid) corrupt(pgid, "it changed while it was read");
    return bytes;
  }

  // Checks that `count` elements and what they point at lie inside the page, read as the
  // caller will read them: branch elements or leaf elements (a page may claim both flags).
  void check_elements(const std::string& where, std::string_view page, const PageHeader& header, bool branch) const {
    if (page_header_size + std::size_t{header.count} * element_size > page.size())
      corrupt(where, fmt::format("{} elements do not fit", header.count));
    for (std::size_t i = 0; i < header.count; ++i) {
      const char* e = page.data() + page_header_size + i * element_size;
      const std::uint64_t pos = branch ? le32(e) : le32(e + 4);
      const std::uint64_t ksize = branch ? le32(e + 4) : le32(e + 8);
      const std::uint64_t vsize = branch ? 0 : le32(e + 12);
      const std::uint64_t start = static_cast<std::uint64_t>(e - page.data()) + pos;
      if (start + ksize + vsize > page.size()) corrupt(where, fmt::format("element {} points past the page", i));
    }
  }

  // Walks the subtree at `pgid`; `visit` sees every leaf element when `all_leaves`, else
  // only those of the rightmost leaf; `entries` counts every leaf element.
  void walk(std::uint64_t pgid, int depth, bool all_leaves, const LeafVisitor& visit, std::uint64_t* entries = nullptr,
            bool rightmost = true) {
    if (depth > max_depth) corrupt(pgid, "the tree is deeper than any bbolt tree can be");
    const bool need_content = all_leaves || rightmost;
    const bool filtered = filter_ != nullptr && all_leaves;  // a leaf's headers first, then maybe the rest
    // One buffer per page the walks hold at once: this page stays in its buffer while the
    // walk goes down from it (and a visitor may start another walk meanwhile).
    const Level level(*this);
    auto page = read_page(pgid, need_content && !filtered, level.buffer);
    auto header = parse_header(page);
    if (header.flags & leaf_flag) {
      ++summary_.leaf_pages;
      if (entries) *entries += header.count;
      if (!need_content) return;
      if (filtered) {
        if (!(*filter_)(pairs_in_leaf(pgid, header))) return;
        page = read_page_again(pgid, level.buffer);
        header = parse_header(page);
      }
      check_elements(fmt::format("page {}", pgid), page, header, false);
      for (std::size_t i = 0; i < header.count; ++i) {
        if (!all_leaves && i + 1 != header.count) continue;
        visit(page.data() + page_header_size + i * element_size, page);
      }
      return;
    }
    if (!(header.flags & branch_flag)) corrupt(pgid, fmt::format("neither a branch nor a leaf (flags {:#x})", header.flags));
    if (!need_content || filtered) page = read_page_again(pgid, level.buffer);
    header = parse_header(page);
    ++summary_.branch_pages;
    if (header.count == 0) corrupt(pgid, "an empty branch page");
    check_elements(fmt::format("page {}", pgid), page, header, true);
    for (std::size_t i = 0; i < header.count; ++i) {
      const char* e = page.data() + page_header_size + i * element_size;
      walk(le64(e + 8), depth + 1, all_leaves, visit, entries, rightmost && i + 1 == header.count);
    }
  }

  // How many elements of leaf `pgid` (its header read) are pairs, not nested buckets: read off
  // its element headers alone (16 bytes each, after the page header), not its keys and values.
  std::uint64_t pairs_in_leaf(std::uint64_t pgid, const PageHeader& header) {
    const std::uint64_t extent = (std::uint64_t{header.overflow} + 1) * meta_.page_size;
    const std::uint64_t bytes = page_header_size + std::uint64_t{header.count} * element_size;
    if (bytes > extent || pgid + header.overflow >= meta_.high_water)
      corrupt(pgid, fmt::format("{} elements do not fit", header.count));
    const auto elements = source_.read(pgid * meta_.page_size, static_cast<std::size_t>(bytes), headers_buffer_);
    std::uint64_t pairs = 0;
    for (std::size_t i = 0; i < header.count; ++i)
      if (!(le32(elements.data() + page_header_size + i * element_size) & bucket_leaf_flag)) ++pairs;
    return pairs;
  }

  // A branch reached off the rightmost edge: its header was read, now the whole page.
  std::string_view read_page_again(std::uint64_t pgid, PageBuffer& buffer) {
    seen_[pgid] = false;
    return read_page(pgid, true, buffer);
  }

  // The buffer of one page a walk holds, taken from the walker's stack of them.
  struct Level {
    explicit Level(Walker& w) : walker(w), buffer(w.take_buffer()) {}
    ~Level() { --walker.levels_; }
    Level(const Level&) = delete;
    Level& operator=(const Level&) = delete;
    Walker& walker;
    PageBuffer& buffer;
  };
  PageBuffer& take_buffer() {
    if (levels_ == buffers_.size()) buffers_.push_back(std::make_unique<PageBuffer>());
    return *buffers_[levels_++];
  }

  void root_element(const char* e) {
    const auto flags = le32(e);
    const char* key = e + le32(e + 4);
    const auto ksize = le32(e + 8);
    const auto vsize = le32(e + 12);
    if (!(flags & bucket_leaf_flag)) return;  // a plain value at the top level: not a bucket
    BoltBucket bucket;
    bucket.name.assign(key, ksize);
    const std::string value(key + ksize, vsize);
    const auto where = fmt::format("bucket {:?}", bucket.name);
    if (value.size() < 16) corrupt(where, fmt::format("its header is {} bytes", value.size()));
    const auto root = le64(value.data());
    auto last = [&](const char* element, std::string_view) {
      const char* k = element + le32(element + 4);
      bucket.last_key.assign(k, le32(element + 8));
    };
    if (root == 0) {
      PageHeader header;
      const auto inline_page = inline_leaf(where, value, header);
      bucket.entries = header.count;
      if (header.count > 0) last(inline_page.data() + page_header_size + (header.count - 1) * element_size, inline_page);
    } else {
      walk(root, 1, false, last, &bucket.entries);
    }
    summary_.buckets.push_back(std::move(bucket));
  }

  const Source& source_;
  const Meta& meta_;
  BoltSummary& summary_;
  std::vector<bool> seen_;  // by page id, below the high-water mark
  const BoltLeafFilter* filter_ = nullptr;  // of the bucket walk under way
  PageBuffer headers_buffer_;               // a leaf's element headers, for filter_
  std::vector<std::unique_ptr<PageBuffer>> buffers_;
  std::size_t levels_ = 0;  // buffers_ in use
};

// The meta page to use: the valid one with the highest transaction id.
Meta pick_meta(const Source& source, int& which) {
  // bbolt writes both meta pages at the start: page 0 at offset 0, page 1 one page later.
  // Page 0 tells the page size; when it is damaged, page 1 is looked for at the usual sizes.
  std::string problem0, problem1;
  std::optional<Meta> meta0, meta1;
  const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(source.size(), 4096));
  meta0 = parse_meta(source.read(0, first), problem0);
  std::vector<std::uint32_t> sizes;
  if (meta0) sizes.push_back(meta0->page_size);
  for (std::uint32_t s : {4096u, 8192u, 16384u, 65536u})
    if (!meta0 || s != meta0->page_size) sizes.push_back(s);
  for (auto size : sizes) {
    if (source.size() < std::uint64_t{size} + page_header_size + meta_size) continue;
    std::string p;
    meta1 = parse_meta(source.read(size, page_header_size + meta_size), p);
    if (meta1 && meta1->page_size == size) break;
    if (problem1.empty()) problem1 = p;
    meta1.reset();
  }
  if (!meta0 && !meta1)
    throw core::Error(fmt::format("{}: not a bbolt database: meta page 0: {}; meta page 1: {}", source.name(), problem0,
                            problem1.empty() ? std::string("not found") : problem1));
  const bool use1 = meta1 && (!meta0 || meta1->txid > meta0->txid);
  const Meta meta = use1 ? *meta1 : *meta0;
  if (meta.high_water > source.size() / meta.page_size)
    throw core::Error(fmt::format("{}: truncated bbolt database: the meta says {} pages of {} bytes, the file holds {} bytes",
                            source.name(), meta.high_water, meta.page_size, source.size()));
  which = use1 ? 1 : 0;
  return meta;
}

// use(walker) with a walker over `source`'s newest valid meta.
template <typename Use>
auto with_walker(const Source& source, Use&& use) {
  int which = 0;
  const auto meta = pick_meta(source, which);
  BoltSummary summary;
  Walker walker(source, meta, summary);
  return use(walker);
}

BoltSummary read_source(const Source& source) {
  int which = 0;
  const auto meta = pick_meta(source, which);
  BoltSummary summary;
  summary.page_size = meta.page_size;
  summary.txid = meta.txid;
  summary.high_water = meta.high_water;
  summary.meta_page = which;
  Walker(source, meta, summary).walk_root();
  return summary;
}

std::size_t read_source_bucket_runs(const Source& source, const std::string& bucket, std::size_t parts,
                                    const BoltRunVisitor& visit_run) {
  int which = 0;
  const auto meta = pick_meta(source, which);
  BoltSummary summary;
  Walker first(source, meta, summary);
  const auto header = first.bucket_header(bucket);
  if (!header) throw core::Error(fmt::format("{}: the bbolt database has no bucket {:?}", source.name(), bucket));
  const auto children = first.root_children(bucket, *header);
  if (parts < 2 || children.size() < 2) {
    first.walk_bucket_pairs(bucket, *header, visit_run(0));
    return 1;
  }
  // Runs of subtrees of about equal count; each walk has its own buffers and pages seen (a
  // page two subtrees share is a damage read_bolt finds).
  const std::size_t runs = std::min(parts, children.size());
  std::vector<std::vector<std::uint64_t>> subtrees(runs);
  for (std::size_t i = 0; i < children.size(); ++i) subtrees[i * runs / children.size()].push_back(children[i]);
  std::vector<BoltVisitor> visitors;
  for (std::size_t i = 0; i < runs; ++i) visitors.push_back(visit_run(i));
  std::vector<std::future<void>> walks;
  for (std::size_t i = 1; i < runs; ++i)
    walks.push_back(std::async(std::launch::async, [&, i] {
      BoltSummary own;
      Walker(source, meta, own).walk_subtrees(subtrees[i], visitors[i]);
    }));
  std::exception_ptr failed;
  try {
    first.walk_subtrees(subtrees[0], visitors[0]);
  } catch (...) {
    failed = std::current_exception();
  }
  for (auto& w : walks) {
    try {
      w.get();
    } catch (...) {
      if (!failed) failed = std::current_exception();
    }
  }
  if (failed) std::rethrow_exception(failed);
  return runs;
}

void read_source_bucket(const Source& source, const std::string& bucket, const BoltVisitor& visit,
                        const BoltLeafFilter* filter = nullptr) {
  int which = 0;
  const auto meta = pick_meta(source, which);
  BoltSummary summary;
  if (!Walker(source, meta, summary).walk_bucket(bucket, visit, filter))
    throw core::Error(fmt::format("{}: the bbolt database has no bucket {:?}", source.name(), bucket));
}

void read_source_all(const Source& source, const BoltBucketVisitor& visit) {
  int which = 0;
  const auto meta = pick_meta(source, which);
  BoltSummary summary;
  Walker(source, meta, summary).walk_all(visit);
}

// The file, read with pread as the walk asks.
Source file_source(const core::Fd& fd, const core::bfs::path& file) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) core::throw_errno("stat", file.string(), errno);
  const int raw = fd.get();
  auto name = file.string();
  return Source(name, static_cast<std::uint64_t>(st.st_size), [raw, name](std::uint64_t offset, std::size_t n, char* into) {
    std::size_t done = 0;
    while (done < n) {
      const auto r = core::pread_some(raw, into + done, n - done, static_cast<off_t>(offset + done), name);
      if (r == 0) throw core::Error(fmt::format("{}: the file ended at offset {} while it was read", name, offset + done));
      done += r;
    }
  });
}

}  // namespace

std::uint64_t BoltSummary::entries() const {
  std::uint64_t n = 0;
  for (const auto& b : buckets) n += b.entries;
  return n;
}

const BoltBucket* BoltSummary::bucket(const std::string& name) const {
  for (const auto& b : buckets)
    if (b.name == name) return &b;
  return nullptr;
}

BoltSummary read_bolt(const core::bfs::path& file) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  return read_source(file_source(fd, file));
}

BoltSummary read_bolt_meta(const core::bfs::path& file) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  int which = 0;
  const auto meta = pick_meta(file_source(fd, file), which);
  BoltSummary summary;
  summary.page_size = meta.page_size;
  summary.txid = meta.txid;
  summary.high_water = meta.high_water;
  summary.meta_page = which;
  return summary;
}

BoltSummary read_bolt_bytes(const std::string& bytes, const std::string& name) {
  const Source source(name, bytes);
  return read_source(source);
}

void read_bolt_bucket(const core::bfs::path& file, const std::string& bucket, const BoltVisitor& visit) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  read_source_bucket(file_source(fd, file), bucket, visit);
}

bool read_bolt_bucket_if_there(const core::bfs::path& file, const std::string& bucket, const BoltVisitor& visit) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  return with_walker(file_source(fd, file), [&](Walker& w) { return w.walk_bucket(bucket, visit, nullptr); });
}

std::optional<std::string> read_bolt_last_key(const core::bfs::path& file, const std::string& bucket) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  return with_walker(file_source(fd, file), [&](Walker& w) { return w.last_key(bucket); });
}

std::optional<std::string> read_bolt_last_key_bytes(const std::string& bytes, const std::string& name,
                                                    const std::string& bucket) {
  return with_walker(Source(name, bytes), [&](Walker& w) { return w.last_key(bucket); });
}

void read_bolt_bucket_bytes(const std::string& bytes, const std::string& name, const std::string& bucket,
                            const BoltVisitor& visit) {
  const Source source(name, bytes);
  read_source_bucket(source, bucket, visit);
}

void read_bolt_bucket_filtered(const core::bfs::path& file, const std::string& bucket, const BoltLeafFilter& filter,
                               const BoltVisitor& visit) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  read_source_bucket(file_source(fd, file), bucket, visit, &filter);
}

void read_bolt_bucket_filtered_bytes(const std::string& bytes, const std::string& name, const std::string& bucket,
                                     const BoltLeafFilter& filter, const BoltVisitor& visit) {
  const Source source(name, bytes);
  read_source_bucket(source, bucket, visit, &filter);
}

std::size_t read_bolt_bucket_runs(const core::bfs::path& file, const std::string& bucket, std::size_t parts,
                                  const BoltRunVisitor& visit_run) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  return read_bolt_bucket_runs(fd, file, bucket, parts, visit_run);
}

std::size_t read_bolt_bucket_runs(const core::Fd& fd, const core::bfs::path& file, const std::string& bucket,
                                  std::size_t parts, const BoltRunVisitor& visit_run) {
  return read_source_bucket_runs(file_source(fd, file), bucket, parts, visit_run);
}

std::size_t read_bolt_bucket_runs_bytes(const std::string& bytes, const std::string& name, const std::string& bucket,
                                        std::size_t parts, const BoltRunVisitor& visit_run) {
  const Source source(name, bytes);
  return read_source_bucket_runs(source, bucket, parts, visit_run);
}

void read_bolt_all(const core::bfs::path& file, const BoltBucketVisitor& visit) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file.string(), errno);
  read_source_all(file_source(fd, file), visit);
}

void read_bolt_all_bytes(const std::string& bytes, const std::string& name, const BoltBucketVisitor& visit) {
  const Source source(name, bytes);
  read_source_all(source, visit);
}

}  // namespace kdr::etcd
