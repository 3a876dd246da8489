/* ctflow model handler ABI, version 1: how `ctflow serve` runs a model.
 *
 * A plugin library may export, next to `ctflow_plugins_v1`, the entry point
 * `ctflow_handlers_v1`: a list of handlers. A handler is what TorchServe calls
 * a handler: it loads a registered model version from its artifact folders and
 * turns a batch of inputs into one JSON answer per input. The server owns HTTP,
 * input decoding, batching, versions and metrics; the handler owns the model.
 *
 * Rules, as for plugin.h: only C types cross; no exception escapes; structs
 * start with {abi_version, size} and only ever grow at the end.
 *
 * Inputs are grayscale images of input_height x input_width float32 pixels in
 * [0, 1], row-major, one after the other. The server has already decoded and
 * resized them (PNG) or checked their length (JSON). A tabular handler (one
 * with decode_row) takes rows of named fields instead, which it decodes itself.
 */
#ifndef CTFLOW_HANDLER_H_
#define CTFLOW_HANDLER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CTFLOW_HANDLER_ABI_VERSION 1u

typedef struct ctflow_model ctflow_model; /* opaque, owned by the handler */

typedef struct ctflow_handler_desc {
  uint32_t abi_version; /* CTFLOW_HANDLER_ABI_VERSION the library was built with */
  uint32_t size;        /* sizeof(ctflow_handler_desc) */
  const char* name;     /* "family.name", e.g. "mnist.knn" */
  const char* description;
  int32_t input_height, input_width;

  /* Loads a model. CONFIG is a JSON object: "artifacts", the version's
   * artifact paths by name (e.g. {"model": "/…/trees/ab…", "index": "/…"});
   * "threads", the compute threads to use; "cuda" (bool); "params" and
   * "metrics", what the model registry holds for the version.
   * Returns NULL and sets *error (malloc'd) when it cannot. */
  ctflow_model* (*load)(const char* config_json, char** error);

  /* Runs N inputs (N * input_height * input_width floats). Writes N answers,
   * each a JSON text allocated with malloc, into RESULTS[0..N-1], and into
   * CLASSES[0..N-1] the predicted class index of each (or -1: the server counts
   * them for drift metrics). Returns 0, or non-zero with *error (malloc'd).
   * The server calls it from one thread at a time per model. */
  int (*predict)(ctflow_model* model, const float* inputs, int64_t n, char** results, int64_t* classes,
                 char** error);

  /* Frees the model. */
  void (*unload)(ctflow_model* model);

  /* --- Added after version 1: the host checks CTFLOW_HANDLER_HAS(desc, field)
   * first; a handler built before leaves them out (its `size` is smaller). --- */

  /* As predict, and also writes into NN_DISTANCES[0..N-1] each input's distance
   * to its nearest training example (mnist.knn: the cosine distance, 1 - the
   * similarity, to the nearest indexed image), or NaN where the model has none.
   * The server keeps a window of them and compares it with the reference
   * profile of the version (drift). May be NULL: the server calls predict. */
  int (*predict_nn)(ctflow_model* model, const float* inputs, int64_t n, char** results, int64_t* classes,
                    double* nn_distances, char** error);

  /* Tabular models (input_height 1): decodes one input, ROW_JSON, a JSON object
   * of named fields, into input_width floats at OUT. Returns 0, or non-zero
   * with *error (malloc'd) naming the field and what it must hold; the server
   * answers 400 with it. NULL: inputs are images, as above. */
  int (*decode_row)(const char* row_json, float* out, char** error);
} ctflow_handler_desc;

/* The size of a version 1 descriptor, before any field was appended. */
#define CTFLOW_HANDLER_V1_SIZE (offsetof(ctflow_handler_desc, unload) + sizeof(void (*)(ctflow_model*)))
#define CTFLOW_HANDLER_HAS(desc, field) \
  ((desc)->size >= offsetof(ctflow_handler_desc, field) + sizeof((desc)->field) && (desc)->field != NULL)

/* The entry point. Sets *handlers to an array of *count descriptors with static
 * storage. Returns 0, or non-zero when the library cannot serve this host. */
typedef int (*ctflow_handlers_v1_fn)(uint32_t host_abi, const ctflow_handler_desc* const** handlers,
                                     size_t* count);
#define CTFLOW_HANDLER_ENTRY "ctflow_handlers_v1"

#ifdef __cplusplus
}

/* Defines the library's handler entry point over `ctflow_handler_desc` objects. */
#define CTFLOW_EXPORT_HANDLERS(...)                                                            \
  extern "C" __attribute__((visibility("default"))) int ctflow_handlers_v1(                   \
      uint32_t host_abi, const ctflow_handler_desc* const** handlers, size_t* count) {         \
    static const ctflow_handler_desc* const kList[] = {__VA_ARGS__};                           \
    if (host_abi < 1u) return 1;                                                               \
    *handlers = kList;                                                                         \
    *count = sizeof(kList) / sizeof(kList[0]);                                                 \
    return 0;                                                                                  \
  }
#endif

#endif /* CTFLOW_HANDLER_H_ */
