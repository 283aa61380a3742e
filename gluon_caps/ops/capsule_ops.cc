// Fused routing operators for MXNet's CPU build, loaded with mx.library.load (MXNet >= 1.7).
//
// MXNet 1.9's CPU batch_dot runs one single-threaded BLAS call per matrix, so the routing's
// matrix-vector products over the predictions u (M, n, D) read u at one core's memory bandwidth.
// These kernels read u once, split over OpenMP threads by rows m:
//   caps_weighted_sum(c (M, n), u (M, n, D)) -> s (M, D),  s[m, d] = sum_i c[m, i] u[m, i, d]
//   caps_agreement(u (M, n, D), v (M, D))    -> a (M, n),  a[m, i] = sum_d u[m, i, d] v[m, d]
// and their gradients are each other plus an outer product.
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

typedef std::unordered_map<std::string, std::string> Attrs;

// Threads per kernel: OMP_NUM_THREADS if set, else every core this process may use. Set once by
// initialize(); MXNet's engine threads would otherwise run OpenMP regions on one thread.
int g_threads = 1;

// a[m, i] = sum_d u[m, i, d] v[m, d], in blocks of rows i whose partial sums stay in registers
// while the columns d are swept, so that the inner loop is vectorised over i.
template <typename T>
void Agreement(const T* u, const T* v, T* a, int64_t M, int64_t n, int64_t D) {
  const int64_t kBlock = 64;
  #pragma omp parallel for schedule(static) num_threads(g_threads)
  for (int64_t m = 0; m < M; ++m) {
    const T* um = u + m * n * D;
    const T* vm = v + m * D;
    for (int64_t begin = 0; begin < n; begin += kBlock) {
      const int64_t rows = n - begin < kBlock ? n - begin : kBlock;
      const T* block = um + begin * D;
      T acc[kBlock] = {0};
      for (int64_t d = 0; d < D; ++d) {
        const T vd = vm[d];
        #pragma omp simd
        for (int64_t i = 0; i < rows; ++i) acc[i] += block[i * D + d] * vd;
      }
      for (int64_t i = 0; i < rows; ++i) a[m * n + begin + i] = acc[i];
    }
  }
}

// s[m, d] = sum_i c[m, i] u[m, i, d]
template <typename T>
void WeightedSum(const T* c, const T* u, T* s, int64_t M, int64_t n, int64_t D) {
  #pragma omp parallel for schedule(static) num_threads(g_threads)
  for (int64_t m = 0; m < M; ++m) {
    const T* cm = c + m * n;
    const T* um = u + m * n * D;
    T* sm = s + m * D;
    for (int64_t d = 0; d < D; ++d) sm[d] = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T w = cm[i];
      const T* ui = um + i * D;
      #pragma omp simd
      for (int64_t d = 0; d < D; ++d) sm[d] += w * ui[d];
    }
  }
}

// g[m, i, d] = a[m, i] v[m, d]
template <typename T>
void Outer(const T* a, const T* v, T* g, int64_t M, int64_t n, int64_t D) {
  #pragma omp parallel for schedule(static) num_threads(g_threads)
  for (int64_t m = 0; m < M; ++m) {
    const T* vm = v + m * D;
    for (int64_t i = 0; i < n; ++i) {
      const T w = a[m * n + i];
      T* gi = g + (m * n + i) * D;
      #pragma omp simd
      for (int64_t d = 0; d < D; ++d) gi[d] = w * vm[d];
    }
  }
}

MXReturnValue TwoInputs(const Attrs& attrs, int* num_in, int* num_out) {
  *num_in = 2;
  *num_out = 1;
  return MX_SUCCESS;
}

// float32 or float64, the same for both inputs
MXReturnValue SameFloatType(const Attrs& attrs, std::vector<int>* in, std::vector<int>* out) {
  const int dtype = in->at(0);
  if ((dtype != kFloat32 && dtype != kFloat64) || in->at(1) != dtype) {
    MX_ERROR_MSG << "gluon-caps fused routing needs two float32 or two float64 inputs, got "
                 << "dtype codes " << in->at(0) << " and " << in->at(1);
    return MX_FAIL;
  }
  (*out)[0] = dtype;
  return MX_SUCCESS;
}

typedef std::vector<std::vector<unsigned int>> Shapes;

// Checks c or a (M, n), u (M, n, D) and v or s (M, D) against each other.
bool Consistent(const std::vector<unsigned int>& rows, const std::vector<unsigned int>& u,
                const char* op) {
  if (u.size() != 3 || rows.size() != 2 || rows[0] != u[0] || rows[1] != u[1]) {
    MX_ERROR_MSG << op << ": expected weights (M, n) and predictions (M, n, D)";
    return false;
  }
  return true;
}

MXReturnValue WeightedSumShape(const Attrs& attrs, Shapes* in, Shapes* out) {
  if (!Consistent(in->at(0), in->at(1), "caps_weighted_sum")) return MX_FAIL;
  (*out)[0] = {in->at(1)[0], in->at(1)[2]};
  return MX_SUCCESS;
}

MXReturnValue AgreementShape(const Attrs& attrs, Shapes* in, Shapes* out) {
  const std::vector<unsigned int>& u = in->at(0);
  const std::vector<unsigned int>& v = in->at(1);
  if (u.size() != 3 || v.size() != 2 || v[0] != u[0] || v[1] != u[2]) {
    MX_ERROR_MSG << "caps_agreement: expected predictions (M, n, D) and capsules (M, D)";
    return MX_FAIL;
  }
  (*out)[0] = {u[0], u[1]};
  return MX_SUCCESS;
}

// forward inputs: c, u; output: s
struct WeightedSumForward {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    MXTensor& u = in->at(1);
    WeightedSum(in->at(0).data<T>(), u.data<T>(), out->at(0).data<T>(),
                u.shape[0], u.shape[1], u.shape[2]);
  }
};

// backward inputs: grad s, c, u; outputs: grad c = agreement(u, grad s), grad u = c (x) grad s
struct WeightedSumBackward {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    const T* grad_s = in->at(0).data<T>();
    MXTensor& u = in->at(2);
    const int64_t M = u.shape[0], n = u.shape[1], D = u.shape[2];
    Agreement(u.data<T>(), grad_s, out->at(0).data<T>(), M, n, D);
    Outer(in->at(1).data<T>(), grad_s, out->at(1).data<T>(), M, n, D);
  }
};

// forward inputs: u, v; output: a
struct AgreementForward {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    MXTensor& u = in->at(0);
    Agreement(u.data<T>(), in->at(1).data<T>(), out->at(0).data<T>(),
              u.shape[0], u.shape[1], u.shape[2]);
  }
};

// backward inputs: grad a, u, v; outputs: grad u = grad a (x) v, grad v = weighted_sum(grad a, u)
struct AgreementBackward {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    const T* grad_a = in->at(0).data<T>();
    MXTensor& u = in->at(1);
    const int64_t M = u.shape[0], n = u.shape[1], D = u.shape[2];
    Outer(grad_a, in->at(2).data<T>(), out->at(0).data<T>(), M, n, D);
    WeightedSum(grad_a, u.data<T>(), out->at(1).data<T>(), M, n, D);
  }
};

// Runs Kernel::Run<float> or Kernel::Run<double> by the dtype of the first input.
template <typename Kernel>
MXReturnValue ByDtype(const Attrs& attrs, std::vector<MXTensor>* inputs,
                      std::vector<MXTensor>* outputs, const OpResource& res) {
  if (inputs->at(0).dtype == kFloat64) {
    Kernel::template Run<double>(inputs, outputs);
  } else {
    Kernel::template Run<float>(inputs, outputs);
  }
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(caps_weighted_sum)
    .setParseAttrs(TwoInputs)
    .setInferType(SameFloatType)
    .setInferShape(WeightedSumShape)
    .setForward(ByDtype<WeightedSumForward>, "cpu")
    .setBackward(ByDtype<WeightedSumBackward>, "cpu");

REGISTER_OP(caps_agreement)
    .setParseAttrs(TwoInputs)
    .setInferType(SameFloatType)
    .setInferShape(AgreementShape)
    .setForward(ByDtype<AgreementForward>, "cpu")
    .setBackward(ByDtype<AgreementBackward>, "cpu");

MXReturnValue initialize(int version) {
  const char* requested = std::getenv("OMP_NUM_THREADS");
  g_threads = requested != nullptr && std::atoi(requested) > 0 ? std::atoi(requested)
                                                              : omp_get_num_procs();
  if (version < 10700) {
    MX_ERROR_MSG << "gluon-caps fused routing needs MXNet >= 1.7, found " << version;
    return MX_FAIL;
  }
  return MX_SUCCESS;
}
