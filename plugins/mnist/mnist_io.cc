#include "mnist_io.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace ctflow::mnist {

namespace {

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

int64_t IdxHeader::item_size() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

IdxReader::IdxReader(const fs::path& path) {
  h_.path = path.string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw DataError("IDX file " + q(path) + " does not exist");
  gz_ = gzopen(path.c_str(), "rb");
  if (gz_ == nullptr) throw DataError("IDX file " + q(path) + " cannot be opened: " + std::strerror(errno));
  gzbuffer(static_cast<gzFile>(gz_), 1 << 18);
  unsigned char magic[4];
  int got = gzread(static_cast<gzFile>(gz_), magic, 4);
  if (got != 4) throw DataError("IDX file " + q(path) + " is truncated: it ends inside the 4-byte magic number");
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", be32(magic));
  if (magic[0] != 0 || magic[1] != 0 || (magic[2] != 0x08 && magic[2] != 0x0D) || magic[3] < 1 || magic[3] > 4)
    throw DataError("IDX file " + q(path) + " has a wrong magic number " + hex +
                    " (expected 0x00000801 for labels or 0x00000803 for images; unsigned byte or float data)");
  h_.type = magic[2];
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    if (gzread(static_cast<gzFile>(gz_), b, 4) != 4)
      throw DataError("IDX file " + q(path) + " is truncated: it ends inside the header (dimension " +
                      std::to_string(d) + ")");
    h_.dims.push_back(be32(b));
  }
}

IdxReader::~IdxReader() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
}

void IdxReader::read_exact(void* buf, size_t bytes) {
  char* p = static_cast<char*>(buf);
  while (bytes > 0) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
    int got = gzread(static_cast<gzFile>(gz_), p, chunk);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(static_cast<gzFile>(gz_), &err);
      throw DataError("IDX file " + q(h_.path) + " cannot be read: " + (msg ? msg : "zlib error") +
                      " (truncated or corrupt gzip data)");
    }
    if (got == 0) break;
    p += got;
    bytes -= static_cast<size_t>(got);
  }
  if (bytes > 0) {
    throw DataError("IDX file " + q(h_.path) + " is truncated: the header announces " +
                    std::to_string(h_.count()) + " items but the data ends after item " + std::to_string(done_));
  }
}

void IdxReader::read(int64_t n, float* out) {
  if (done_ + n > h_.count()) throw DataError("IDX file " + q(h_.path) + ": read past the announced count");
  const int64_t elems = n * h_.item_size();
  if (h_.type == 0x08) {
    std::vector<uint8_t> tmp(static_cast<size_t>(elems));
    read_exact(tmp.data(), tmp.size());
    for (int64_t i = 0; i < elems; ++i) out[i] = tmp[static_cast<size_t>(i)];
  } else {
    read_exact(out, static_cast<size_t>(elems) * 4);
    for (int64_t i = 0; i < elems; ++i) {
      uint32_t v;
      std::memcpy(&v, out + i, 4);
      v = __builtin_bswap32(v);
      std::memcpy(out + i, &v, 4);
    }
  }
  done_ += n;
}

void IdxReader::read_u8(int64_t n, uint8_t* out) {
  if (h_.type != 0x08) throw DataError("IDX file " + q(h_.path) + " does not hold unsigned bytes");
  if (done_ + n > h_.count()) throw DataError("IDX file " + q(h_.path) + ": read past the announced count");
  read_exact(out, static_cast<size_t>(n * h_.item_size()));
  done_ += n;
}

IdxPair find_idx_pair(const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError("data folder " + q(dir) + " does not exist or is not a folder");
  IdxPair p;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (n.rfind(prefix + "-images", 0) == 0 && p.images.empty()) p.images = dir / n;
    if (n.rfind(prefix + "-labels", 0) == 0 && p.labels.empty()) p.labels = dir / n;
  }
  if (p.images.empty() || p.labels.empty()) {
    std::string missing = p.images.empty() ? prefix + "-images-idx3-ubyte[.gz]" : "";
    if (p.labels.empty()) missing += (missing.empty() ? "" : " and ") + prefix + "-labels-idx1-ubyte[.gz]";
    throw DataError("data folder " + q(dir) + " has no " + missing + " (expected MNIST IDX files such as " +
                    prefix + "-images-idx3-ubyte.gz)");
  }
  return p;
}

std::vector<uint8_t> read_idx_labels(const fs::path& path, int num_classes) {
  IdxReader r(path);
  const auto& h = r.header();
  if (h.type != 0x08 || h.dims.size() != 1)
    throw DataError("IDX file " + q(path) + " is not a label file: expected 1 dimension of unsigned bytes (magic "
                    "0x00000801), got " + std::to_string(h.dims.size()) + " dimension(s)");
  std::vector<uint8_t> labels(static_cast<size_t>(h.count()));
  r.read_u8(h.count(), labels.data());
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= num_classes)
      throw DataError("IDX file " + q(path) + " has label " + std::to_string(labels[i]) + " at item " +
                      std::to_string(i) + ", outside 0.." + std::to_string(num_classes - 1));
  return labels;
}

void write_idx_u8(const fs::path& path, const std::vector<int64_t>& dims, const uint8_t* data, size_t n) {
  const bool gz = path.extension() == ".gz";
  gzFile f = gzopen(path.c_str(), gz ? "wb6" : "wbT");
  if (f == nullptr) throw DataError("cannot write " + q(path));
  unsigned char hdr[4] = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  gzwrite(f, hdr, 4);
  for (int64_t d : dims) {
    unsigned char b[4] = {static_cast<unsigned char>(d >> 24), static_cast<unsigned char>(d >> 16),
                          static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)};
    gzwrite(f, b, 4);
  }
  if (n > 0) gzwrite(f, data, static_cast<unsigned>(n));
  gzclose(f);
}

// ---------------------------------------------------------------- npy
size_t dtype_size(const std::string& dtype) {
  if (dtype == "|u1") return 1;
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<i8" || dtype == "<f8") return 8;
  throw DataError("unsupported npy dtype '" + dtype + "'");
}

static std::string npy_header(const std::string& dtype, const std::vector<int64_t>& shape) {
  std::string s = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  s += "), }";
  // magic(6) + version(2) + len(2) + header + '\n', padded to a multiple of 64
  size_t total = 10 + s.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  s.append(pad, ' ');
  s += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  uint16_t len = static_cast<uint16_t>(s.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  return out + s;
}

NpyWriter::NpyWriter(const fs::path& path, const std::string& dtype, const std::vector<int64_t>& shape)
    : path_(path), out_(path, std::ios::binary) {
  if (!out_) throw DataError("cannot write " + q(path));
  expected_ = dtype_size(dtype);
  for (int64_t d : shape) expected_ *= static_cast<size_t>(d);
  const std::string h = npy_header(dtype, shape);
  out_.write(h.data(), static_cast<std::streamsize>(h.size()));
}

NpyWriter::~NpyWriter() = default;

void NpyWriter::write(const void* data, size_t bytes) {
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  written_ += bytes;
}

void NpyWriter::close() {
  out_.close();
  if (!out_) throw DataError("cannot write " + q(path_));
  if (written_ != expected_)
    throw DataError("internal: " + q(path_) + " got " + std::to_string(written_) + " bytes, shape says " +
                    std::to_string(expected_));
}

void write_npy(const fs::path& path, const std::string& dtype, const std::vector<int64_t>& shape,
               const void* data) {
  NpyWriter w(path, dtype, shape);
  size_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  w.write(data, n);
  w.close();
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray read_npy(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("npy file " + q(path) + " does not exist or cannot be read");
  char magic[10];
  in.read(magic, 10);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw DataError("npy file " + q(path) + " is not a .npy file (bad magic)");
  size_t hlen = 0;
  if (magic[6] == 1) {
    hlen = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  } else {
    char more[2];
    in.read(more, 2);
    hlen = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8) |
           (static_cast<size_t>(static_cast<unsigned char>(more[0])) << 16) |
           (static_cast<size_t>(static_cast<unsigned char>(more[1])) << 24);
  }
  std::string h(hlen, '\0');
  in.read(h.data(), static_cast<std::streamsize>(hlen));
  if (!in) throw DataError("npy file " + q(path) + " is truncated inside its header");
  NpyArray a;
  auto d = h.find("'descr':");
  auto s = h.find("'shape':");
  if (d == std::string::npos || s == std::string::npos) throw DataError("npy file " + q(path) + " has a malformed header");
  auto d1 = h.find('\'', d + 8), d2 = h.find('\'', d1 + 1);
  a.dtype = h.substr(d1 + 1, d2 - d1 - 1);
  if (h.find("'fortran_order': True") != std::string::npos) throw DataError("npy file " + q(path) + " is in Fortran order");
  auto p1 = h.find('(', s), p2 = h.find(')', p1);
  std::stringstream ss(h.substr(p1 + 1, p2 - p1 - 1));
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    tok.erase(std::remove_if(tok.begin(), tok.end(), ::isspace), tok.end());
    if (!tok.empty()) a.shape.push_back(std::stoll(tok));
  }
  const size_t bytes = static_cast<size_t>(a.numel()) * dtype_size(a.dtype);
  a.data.resize(bytes);
  in.read(a.data.data(), static_cast<std::streamsize>(bytes));
  if (static_cast<size_t>(in.gcount()) != bytes)
    throw DataError("npy file " + q(path) + " is truncated: shape needs " + std::to_string(bytes) + " bytes of data, found " +
                    std::to_string(in.gcount()));
  return a;
}

// ---------------------------------------------------------------- dataset
const Split* Manifest::find(const std::string& name) const {
  for (const auto& s : splits)
    if (s.name == name) return &s;
  return nullptr;
}

const Split& Manifest::index_split() const {
  const Split* s = find("index");
  if (s != nullptr && s->count > 0) return *s;
  s = find("train");
  if (s == nullptr) throw DataError("dataset " + q(dir) + " has no 'train' split");
  return *s;
}

Manifest read_manifest(const fs::path& dataset_dir) {
  Manifest m;
  m.dir = dataset_dir;
  const fs::path p = dataset_dir / "manifest.json";
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) throw DataError("dataset " + q(dataset_dir) + " has no manifest.json (is it the output of mnist.ingest?)");
  try {
    m.json = read_json(p);
    m.dtype = m.json.at("dtype").get<std::string>();
    m.rows = m.json.at("image_shape").at(0).get<int64_t>();
    m.cols = m.json.at("image_shape").at(1).get<int64_t>();
    m.num_classes = m.json.value("num_classes", 10);
    for (const auto& [name, sj] : m.json.at("splits").items()) {
      Split s;
      s.name = name;
      s.count = sj.at("count").get<int64_t>();
      s.histogram = sj.at("class_histogram").get<std::vector<int64_t>>();
      for (const auto& c : sj.at("chunks")) s.chunks.push_back({c.at("images"), c.at("labels"), c.at("rows")});
      m.splits.push_back(std::move(s));
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError("manifest " + q(p) + " is malformed: " + e.what());
  }
  return m;
}

template <class T>
static void load_split_impl(const Manifest& m, const Split& s, std::vector<T>& images, std::vector<int64_t>& labels,
                            int64_t limit) {
  const int64_t px = m.rows * m.cols;
  int64_t n = limit > 0 ? std::min(limit, s.count) : s.count;
  images.resize(static_cast<size_t>(n * px));
  labels.resize(static_cast<size_t>(n));
  int64_t at = 0;
  for (const auto& c : s.chunks) {
    if (at >= n) break;
    NpyArray im = read_npy(m.dir / c.images);
    NpyArray lb = read_npy(m.dir / c.labels);
    if (im.shape.empty() || im.shape[0] != c.rows || im.numel() != c.rows * px)
      throw DataError("npy file " + q(m.dir / c.images) + " has shape that does not match the manifest (" +
                      std::to_string(c.rows) + " x " + std::to_string(m.rows) + " x " + std::to_string(m.cols) + ")");
    if (lb.numel() != c.rows) throw DataError("npy file " + q(m.dir / c.labels) + " has " + std::to_string(lb.numel()) +
                                              " labels, the manifest says " + std::to_string(c.rows));
    const int64_t take = std::min(c.rows, n - at);
    for (int64_t i = 0; i < take; ++i) labels[static_cast<size_t>(at + i)] = lb.dtype == "|u1" ? lb.as<uint8_t>()[i] : lb.as<int64_t>()[i];
    T* dst = images.data() + at * px;
    if (im.dtype == "|u1") {
      const uint8_t* src = im.as<uint8_t>();
      if constexpr (std::is_same_v<T, uint8_t>) {
        std::memcpy(dst, src, static_cast<size_t>(take * px));
      } else {
        for (int64_t i = 0; i < take * px; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
      }
    } else if (im.dtype == "<f4") {
      if constexpr (std::is_same_v<T, uint8_t>) {
        throw DataError("npy file " + q(m.dir / c.images) + " holds float32, expected uint8");
      } else {
        const float* src = im.as<float>();
        for (int64_t i = 0; i < take * px; ++i) {
          if (!std::isfinite(src[i]))
            throw DataError("npy file " + q(m.dir / c.images) + " holds a NaN or Inf at image " + std::to_string(i / px));
          dst[i] = src[i];
        }
      }
    } else {
      throw DataError("npy file " + q(m.dir / c.images) + " has dtype " + im.dtype + ", expected |u1 or <f4");
    }
    at += take;
  }
  if (at < n) throw DataError("dataset " + q(m.dir) + ": split '" + s.name + "' has fewer images than the manifest says");
}

void load_split(const Manifest& m, const Split& s, std::vector<float>& images, std::vector<int64_t>& labels,
                int64_t limit) {
  load_split_impl(m, s, images, labels, limit);
}
void load_split_u8(const Manifest& m, const Split& s, std::vector<uint8_t>& images, std::vector<int64_t>& labels) {
  load_split_impl(m, s, images, labels, 0);
}

void write_json(const fs::path& path, const Json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw DataError("cannot write " + q(path));
}

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw DataError("cannot read " + q(path));
  try {
    return Json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError("file " + q(path) + " is not valid JSON: " + e.what());
  }
}

fs::path resolve_in(const fs::path& given, const std::string& file_name) {
  std::error_code ec;
  if (fs::is_directory(given, ec)) return given / file_name;
  return given;
}

}  // namespace ctflow::mnist
