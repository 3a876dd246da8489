// File formats of the MNIST plugins, without libtorch or faiss: IDX (gzipped or
// not, read with zlib), numpy .npy (write streaming, read whole), the dataset
// manifest, and small helpers. Every error names the file and the problem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow::mnist {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// Progress of a long step for the person watching (ctflow::sdk::Context::progress):
// DONE of TOTAL and a short message.
using ProgressFn = std::function<void(double done, double total, const std::string& message)>;

// Thrown for bad input; the message is meant for the user.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------- IDX files
// The IDX element types used here: 0x08 unsigned byte, 0x0D float32 (big-endian).
struct IdxHeader {
  std::string path;
  uint8_t type = 0;
  std::vector<int64_t> dims;
  int64_t count() const { return dims.empty() ? 0 : dims[0]; }
  int64_t item_size() const;  // elements per item (product of dims[1..])
  int elem_bytes() const { return type == 0x08 ? 1 : 4; }
};

// Sequential reader over an IDX file, gzipped or plain (zlib detects which).
class IdxReader {
 public:
  explicit IdxReader(const fs::path& path);
  ~IdxReader();
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;
  const IdxHeader& header() const { return h_; }
  // Reads the next N items as float32 (uint8 stays 0..255, float as stored).
  // Fails with "truncated" when the file ends early.
  void read(int64_t n, float* out);
  // Reads the next N items as raw uint8 (only for type 0x08).
  void read_u8(int64_t n, uint8_t* out);

 private:
  void read_exact(void* buf, size_t bytes);
  IdxHeader h_;
  void* gz_ = nullptr;
  int64_t done_ = 0;
};

// Finds "<prefix>-images*" and "<prefix>-labels*" (e.g. train-images-idx3-ubyte.gz)
// in DIR. Throws a DataError that names the folder and what is missing.
struct IdxPair {
  fs::path images, labels;
};
IdxPair find_idx_pair(const fs::path& dir, const std::string& prefix);

// Reads a whole label file (type 0x08, one dimension), checking values < num_classes.
std::vector<uint8_t> read_idx_labels(const fs::path& path, int num_classes);

// Writes an IDX file (gzipped when PATH ends in .gz).
void write_idx_u8(const fs::path& path, const std::vector<int64_t>& dims, const uint8_t* data, size_t n);

// ---------------------------------------------------------------- .npy files
// dtype strings as numpy writes them: "|u1", "<f4", "<i4", "<i8".
class NpyWriter {
 public:
  NpyWriter(const fs::path& path, const std::string& dtype, const std::vector<int64_t>& shape);
  ~NpyWriter();
  void write(const void* data, size_t bytes);
  void close();  // checks the byte count against the shape

 private:
  fs::path path_;
  std::ofstream out_;
  size_t expected_ = 0, written_ = 0;
};

void write_npy(const fs::path& path, const std::string& dtype, const std::vector<int64_t>& shape,
               const void* data);

struct NpyArray {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> data;
  int64_t numel() const;
  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(data.data()); }
};
NpyArray read_npy(const fs::path& path);
size_t dtype_size(const std::string& dtype);

// ---------------------------------------------------------------- dataset
// The `dataset` artifact: a folder with manifest.json and .npy chunks per split.
struct Chunk {
  std::string images, labels;  // file names in the dataset folder
  int64_t rows = 0;
};
struct Split {
  std::string name;
  int64_t count = 0;
  std::vector<Chunk> chunks;
  std::vector<int64_t> histogram;
};
struct Manifest {
  fs::path dir;
  Json json;
  std::string dtype;  // "uint8" or "float32"
  int64_t rows = 28, cols = 28;
  int num_classes = 10;
  std::vector<Split> splits;
  const Split* find(const std::string& name) const;
  // The split the kNN index is built from: "index" when present, else "train".
  const Split& index_split() const;
};
Manifest read_manifest(const fs::path& dataset_dir);

// Loads a split's images as float32 in [0,1], shape N x rows*cols, and labels.
void load_split(const Manifest& m, const Split& s, std::vector<float>& images, std::vector<int64_t>& labels,
                int64_t limit = 0);
// Same, keeping uint8 images (only for dtype uint8).
void load_split_u8(const Manifest& m, const Split& s, std::vector<uint8_t>& images,
                   std::vector<int64_t>& labels);

// ---------------------------------------------------------------- helpers
void write_json(const fs::path& path, const Json& j);
Json read_json(const fs::path& path);
// An input artifact may be the folder or a file inside it.
fs::path resolve_in(const fs::path& given, const std::string& file_name);

}  // namespace ctflow::mnist
