// Fused routing operators for MXNet's CPU build, loaded with mx.library.load (MXNet >= 1.7).
//
// MXNet 1.9's CPU batch_dot runs one single-threaded BLAS call per matrix, so the routing's
// matrix-vector products over the predictions u (M, n, D) read u at one core's memory bandwidth.
// These kernels read u once, split over OpenMP threads by rows m:
//   caps_weighted_sum(c (M, n), u (M, n, D)) -> s (M, D),  s[m, d] = sum_i c[m, i] u[m, i, d]
//   caps_agreement(u (M, n, D), v (M, D))    -> a (M, n),  a[m, i] = sum_d u[m, i, d] v[m, d]
// and their gradients are each other plus an outer product. A third computes the predictions
// u_hat[b, j, i] = W[i, j] u[b, i] straight into routing's layout, without a 4-D transpose:
//   caps_predictions(u (B, n, d), W (n, J, D, d)) -> u_hat (B, J, n, D)
// Two more route from the capsules u and the transforms W without ever storing the predictions,
// which they recompute where they need them, forward and backward (see Routed):
//   caps_routed_sum(c (B, n, J), u, W) -> s (B, J, D),
//       s[b, j] = sum_i c[b, i, j] W[i, j] u[b, i]
//   caps_routed_agreement(u, W, v (B, J, D)) -> a (B, n, J),
//       a[b, i, j] = u[b, i] . W[i, j]^T v[b, j]
#include <omp.h>

#include <algorithm>
#include <cmath>
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
      const int64_t rows = std::min(kBlock, n - begin);
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

// Input capsules per block of the predictions kernels: their rows of one (b, j) are contiguous in
// routing's layout, so a block reads or writes kCapsBlock * D values in one run.
const int64_t kCapsBlock = 16;

// The (R, d) matrices W_i of capsules first..first+count, transposed to (d, R) into wt.
template <typename T>
void TransposeBlock(const T* W, int64_t first, int64_t count, int64_t R, int64_t d, T* wt) {
  for (int64_t c = 0; c < count; ++c) {
    const T* Wi = W + (first + c) * R * d;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t e = 0; e < d; ++e) wt[(c * d + e) * R + r] = Wi[r * d + e];
  }
}

// Outputs r per register block of PredictRow: one AVX-512 vector of float32.
const int64_t kLanes = 16;

// acc[l] = sum_e wt[e, l] u[e] for the first `Lanes` columns of wt (d, R), in registers.
template <typename T, int64_t Lanes>
void PredictLanes(const T* wt, const T* u, T* acc, int64_t R, int64_t d) {
  T sum[Lanes] = {0};
  for (int64_t e = 0; e < d; ++e) {
    const T ue = u[e];
    const T* we = wt + e * R;
    #pragma omp simd
    for (int64_t l = 0; l < Lanes; ++l) sum[l] += we[l] * ue;
  }
  std::copy(sum, sum + Lanes, acc);
}

// row[r] = sum_e wt[e, r] u[e]: the R = J*D predictions of one capsule from its transposed
// transforms wt (d, R) and its vector u (d), vectorised over r in blocks of kLanes outputs whose
// sums stay in registers while the d inputs are swept (the rest one output at a time).
template <typename T>
void PredictRow(const T* wt, const T* u, T* row, int64_t R, int64_t d) {
  int64_t r = 0;
  for (; r + kLanes <= R; r += kLanes) PredictLanes<T, kLanes>(wt + r, u, row + r, R, d);
  for (; r < R; ++r) PredictLanes<T, 1>(wt + r, u, row + r, R, d);
}

// The backward pass of PredictRow for the gradient g (R) of its row: grad_u[e] = sum_r wt[e, r]
// g[r], and grad_wt[e, r] += g[r] u[e] (accumulated over the batch by the caller).
template <typename T>
void PredictRowBackward(const T* wt, const T* u, const T* g, T* grad_u, T* grad_wt, int64_t R,
                        int64_t d) {
  for (int64_t e = 0; e < d; ++e) {
    const T* we = wt + e * R;
    T* gwe = grad_wt + e * R;
    const T ue = u[e];
    T dot = 0;
    #pragma omp simd reduction(+:dot)
    for (int64_t r = 0; r < R; ++r) {
      dot += we[r] * g[r];
      gwe[r] += g[r] * ue;
    }
    grad_u[e] = dot;
  }
}

// The transposed gradients gwt (count, d, R) of capsules first..first+count written back into
// grad_W (n, R, d), the layout of W.
template <typename T>
void UntransposeBlock(const T* gwt, int64_t first, int64_t count, int64_t R, int64_t d,
                      T* grad_W) {
  for (int64_t c = 0; c < count; ++c) {
    T* gWi = grad_W + (first + c) * R * d;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t e = 0; e < d; ++e) gWi[r * d + e] = gwt[(c * d + e) * R + r];
  }
}

// y[b, j, i, k] = sum_e W[i, j, k, e] u[b, i, e]: the predictions of capsule i, written straight
// into routing's layout; each (b, i) is a matrix-vector product vectorised over the R = J*D
// outputs.
template <typename T>
void Predictions(const T* u, const T* W, T* y, int64_t B, int64_t n, int64_t J, int64_t D,
                 int64_t d) {
  const int64_t R = J * D, blocks = (n + kCapsBlock - 1) / kCapsBlock;
  #pragma omp parallel num_threads(g_threads)
  {
    std::vector<T> wt(kCapsBlock * d * R), rows(kCapsBlock * R);
    #pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t first = block * kCapsBlock, count = std::min(kCapsBlock, n - first);
      TransposeBlock(W, first, count, R, d, wt.data());                 // (count, d, R)
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t c = 0; c < count; ++c)
          PredictRow(wt.data() + c * d * R, u + (b * n + first + c) * d, rows.data() + c * R,
                     R, d);
        for (int64_t j = 0; j < J; ++j) {
          T* out = y + ((b * J + j) * n + first) * D;                   // count * D in a run
          for (int64_t c = 0; c < count; ++c)
            std::copy(rows.data() + c * R + j * D, rows.data() + c * R + (j + 1) * D, out + c * D);
        }
      }
    }
  }
}

// grad_u[b, i, e] = sum_{j,k} g[b, j, i, k] W[i, j, k, e],
// grad_W[i, j, k, e] = sum_b g[b, j, i, k] u[b, i, e]; both vectorised over R like the forward
// pass, grad_W accumulated transposed and written back once per block.
template <typename T>
void PredictionsBackward(const T* g, const T* u, const T* W, T* grad_u, T* grad_W, int64_t B,
                         int64_t n, int64_t J, int64_t D, int64_t d) {
  const int64_t R = J * D, blocks = (n + kCapsBlock - 1) / kCapsBlock;
  #pragma omp parallel num_threads(g_threads)
  {
    std::vector<T> wt(kCapsBlock * d * R), gwt(kCapsBlock * d * R), rows(kCapsBlock * R);
    #pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t first = block * kCapsBlock, count = std::min(kCapsBlock, n - first);
      TransposeBlock(W, first, count, R, d, wt.data());                 // (count, d, R)
      std::fill(gwt.begin(), gwt.end(), T(0));                          // (count, d, R)
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t j = 0; j < J; ++j) {
          const T* in = g + ((b * J + j) * n + first) * D;              // count * D in a run
          for (int64_t c = 0; c < count; ++c)
            std::copy(in + c * D, in + (c + 1) * D, rows.data() + c * R + j * D);
        }
        for (int64_t c = 0; c < count; ++c) {
          const int64_t bi = b * n + first + c;
          PredictRowBackward(wt.data() + c * d * R, u + bi * d, rows.data() + c * R,
                             grad_u + bi * d, gwt.data() + c * d * R, R, d);
        }
      }
      UntransposeBlock(gwt.data(), first, count, R, d, grad_W);
    }
  }
}

// What one pass of routing without predictions computes (any subset, nullptr for the others)
// from capsules u (B, n, d) and transforms W (n, J, D, d), through the predictions
// u_hat[b, i, j] = W[i, j] u[b, i], which it recomputes per (b, i) and never stores, and from
// per-pair values x (B, n, J) and per-output vectors y (B, J, D):
//   dot    (B, n, J):     dot[b, i, j] = u_hat[b, i, j] . y[b, j]
//   sum    (B, J, D):     sum[b, j] = sum_i x[b, i, j] u_hat[b, i, j]
//   grad_u (B, n, d):     grad_u[b, i] = sum_j x[b, i, j] W[i, j]^T y[b, j]
//   grad_W (n, J, D, d):  grad_W[i, j] = sum_b x[b, i, j] y[b, j] u[b, i]^T (with grad_u)
// and, given logits `prior` (B, n, J), one iteration of routing after the first: dot is then
// prior + u_hat . y, and sum uses x = softmax_j(dot), which the pass writes to coupling if given.
// The routing operators and their gradients are each one such pass:
//   caps_routed_sum(c, u, W)        = sum with x = c;      backward: dot (grad c), grad_u and
//                                                          grad_W with x = c, y = grad s
//   caps_routed_agreement(u, W, v)  = dot with y = v;      backward: sum (grad v) with
//                                                          x = grad a, grad_u and grad_W with
//                                                          x = grad a, y = v
//   caps_routed_step(b, u, W, v)    = dot, coupling and    backward: grad_u and grad_W with
//                                     sum with prior = b,  x = coupling, y = grad s (the
//                                     y = v                agreement is detached)
template <typename T>
struct RoutedPass {
  const T* u;
  const T* W;
  const T* x;
  const T* y;
  const T* prior;
  T* dot;
  T* coupling;
  T* sum;
  T* grad_u;
  T* grad_W;
  int64_t B, n, J, D, d;
};

// out[j] = exp(logits[j]) / sum_k exp(logits[k]) over the J output capsules of one input capsule.
template <typename T>
void Softmax(const T* logits, T* out, int64_t J) {
  const T top = *std::max_element(logits, logits + J);
  T total = 0;
  for (int64_t j = 0; j < J; ++j) total += out[j] = std::exp(logits[j] - top);
  for (int64_t j = 0; j < J; ++j) out[j] /= total;
}

// Threads split the input capsules in blocks (so each writes its own rows of dot, grad_u and
// grad_W, race-free); sum adds up over capsules in one partial sum per thread, added at the end.
template <typename T, int64_t Dim>
void RoutedWithDim(const RoutedPass<T>& p) {
  const int64_t D = Dim > 0 ? Dim : p.D;
  const int64_t R = p.J * D, blocks = (p.n + kCapsBlock - 1) / kCapsBlock;
  const bool predict = p.dot != nullptr || p.sum != nullptr;           // (coupling: with dot)
  const bool backward = p.grad_u != nullptr;
  std::vector<T> partial(p.sum != nullptr ? g_threads * p.B * R : 0, T(0));
  #pragma omp parallel num_threads(g_threads)
  {
    std::vector<T> wt(kCapsBlock * p.d * R), gwt(backward ? kCapsBlock * p.d * R : 0);
    std::vector<T> u_hat(R), row(R), own_coupling(p.J);
    T* own = p.sum != nullptr ? partial.data() + omp_get_thread_num() * p.B * R : nullptr;
    #pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t first = block * kCapsBlock, count = std::min(kCapsBlock, p.n - first);
      TransposeBlock(p.W, first, count, R, p.d, wt.data());             // (count, d, R)
      std::fill(gwt.begin(), gwt.end(), T(0));                          // (count, d, R)
      for (int64_t b = 0; b < p.B; ++b) {
        const T* yb = p.y != nullptr ? p.y + b * R : nullptr;            // (J, D)
        for (int64_t c = 0; c < count; ++c) {
          const int64_t bi = b * p.n + first + c;
          const T* wc = wt.data() + c * p.d * R;                        // (d, R)
          const T* xbi = p.x != nullptr ? p.x + bi * p.J : nullptr;      // (J,)
          if (predict) PredictRow(wc, p.u + bi * p.d, u_hat.data(), R, p.d);
          for (int64_t j = 0; p.dot != nullptr && j < p.J; ++j) {
            const T* uj = u_hat.data() + j * D;
            const T* yj = yb + j * D;
            T agreement = p.prior != nullptr ? p.prior[bi * p.J + j] : T(0);
            #pragma omp simd reduction(+:agreement)
            for (int64_t k = 0; k < D; ++k) agreement += uj[k] * yj[k];
            p.dot[bi * p.J + j] = agreement;
          }
          if (p.prior != nullptr) {                                       // x = softmax(dot)
            T* weights = p.coupling != nullptr ? p.coupling + bi * p.J : own_coupling.data();
            Softmax(p.dot + bi * p.J, weights, p.J);
            xbi = weights;
          }
          for (int64_t j = 0; own != nullptr && j < p.J; ++j) {
            const T xj = xbi[j];
            const T* uj = u_hat.data() + j * D;
            T* sj = own + b * R + j * D;
            #pragma omp simd
            for (int64_t k = 0; k < D; ++k) sj[k] += xj * uj[k];
          }
          if (!backward) continue;
          for (int64_t j = 0; j < p.J; ++j) {
            const T xj = xbi[j];
            const T* yj = yb + j * D;
            T* rj = row.data() + j * D;
            #pragma omp simd
            for (int64_t k = 0; k < D; ++k) rj[k] = xj * yj[k];
          }
          PredictRowBackward(wc, p.u + bi * p.d, row.data(), p.grad_u + bi * p.d,
                             gwt.data() + c * p.d * R, R, p.d);
        }
      }
      if (backward) UntransposeBlock(gwt.data(), first, count, R, p.d, p.grad_W);
    }
  }
  if (p.sum == nullptr) return;
  const int64_t size = p.B * R;
  #pragma omp parallel for schedule(static) num_threads(g_threads)
  for (int64_t m = 0; m < size; ++m) {
    T total = 0;
    for (int t = 0; t < g_threads; ++t) total += partial[t * size + m];
    p.sum[m] = total;
  }
}

// Routed with the output capsules' dimension D known to the compiler where it is CapsNet's 16,
// so that the per-capsule loops over D are single vector operations.
template <typename T>
void Routed(const RoutedPass<T>& p) {
  if (p.D == 16) RoutedWithDim<T, 16>(p);
  else RoutedWithDim<T, 0>(p);
}

template <int Inputs, int Outputs = 1>
MXReturnValue InputsAndOutputs(const Attrs& attrs, int* num_in, int* num_out) {
  *num_in = Inputs;
  *num_out = Outputs;
  return MX_SUCCESS;
}

// float32 or float64, the same for every input. Types are inferred both ways, as MXNet's own
// operators do: an input whose type is not known yet (-1) takes the others', and with none
// known MXNet asks again later. MXNet's AMP pass (a bfloat16 graph around these float32
// operators) infers a graph whose parameters have no type yet.
MXReturnValue SameFloatType(const Attrs& attrs, std::vector<int>* in, std::vector<int>* out) {
  const auto known = std::find_if(in->begin(), in->end(), [](int t) { return t != -1; });
  if (known == in->end()) return MX_SUCCESS;
  const int dtype = *known;
  const bool same = std::all_of(in->begin(), in->end(),
                                [dtype](int t) { return t == -1 || t == dtype; });
  if ((dtype != kFloat32 && dtype != kFloat64) || !same) {
    std::string codes;
    for (int t : *in) codes += " " + std::to_string(t);
    MX_ERROR_MSG << "gluon-caps fused routing needs inputs all float32 or all float64, got "
                 << "dtype codes" << codes;
    return MX_FAIL;
  }
  std::fill(in->begin(), in->end(), dtype);
  std::fill(out->begin(), out->end(), dtype);
  return MX_SUCCESS;
}

typedef std::vector<std::vector<unsigned int>> Shapes;

// c (M, n) and u (M, n, D) give s (M, D)
MXReturnValue WeightedSumShape(const Attrs& attrs, Shapes* in, Shapes* out) {
  const std::vector<unsigned int>& c = in->at(0);
  const std::vector<unsigned int>& u = in->at(1);
  if (c.size() != 2 || u.size() != 3 || c[0] != u[0] || c[1] != u[1]) {
    MX_ERROR_MSG << "caps_weighted_sum: expected weights (M, n) and predictions (M, n, D)";
    return MX_FAIL;
  }
  (*out)[0] = {u[0], u[2]};
  return MX_SUCCESS;
}

// u (M, n, D) and v (M, D) give a (M, n)
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

// Whether u (B, n, d) and W (n, J, D, d) are capsules and their transforms.
bool CapsulesAndTransforms(const std::vector<unsigned int>& u,
                           const std::vector<unsigned int>& W) {
  return u.size() == 3 && W.size() == 4 && W[0] == u[1] && W[3] == u[2];
}

MXReturnValue ShapeError(const char* message) {
  MX_ERROR_MSG << message;
  return MX_FAIL;
}

// u (B, n, d) and W (n, J, D, d) give y (B, J, n, D)
MXReturnValue PredictionsShape(const Attrs& attrs, Shapes* in, Shapes* out) {
  const std::vector<unsigned int>& u = in->at(0);
  const std::vector<unsigned int>& W = in->at(1);
  if (!CapsulesAndTransforms(u, W))
    return ShapeError("caps_predictions: expected capsules (B, n, d) and weights (n, J, D, d)");
  (*out)[0] = {u[0], W[1], u[1], W[2]};
  return MX_SUCCESS;
}

// The two routed operators are each other's dual: caps_routed_sum takes per-pair values
// c (B, n, J) with u (B, n, d) and W (n, J, D, d) to per-output vectors s (B, J, D);
// caps_routed_agreement takes u, W and per-output vectors v (B, J, D) to per-pair values a.
template <bool Sum>
MXReturnValue RoutedShape(const Attrs& attrs, Shapes* in, Shapes* out) {
  const std::vector<unsigned int>& u = in->at(Sum ? 1 : 0);
  const std::vector<unsigned int>& W = in->at(Sum ? 2 : 1);
  if (CapsulesAndTransforms(u, W)) {
    const std::vector<unsigned int> per_pair{u[0], u[1], W[1]}, per_output{u[0], W[1], W[2]};
    if (in->at(Sum ? 0 : 2) == (Sum ? per_pair : per_output)) {
      (*out)[0] = Sum ? per_output : per_pair;
      return MX_SUCCESS;
    }
  }
  return ShapeError(Sum ? "caps_routed_sum: expected couplings (B, n, J), capsules (B, n, d) "
                          "and weights (n, J, D, d)"
                        : "caps_routed_agreement: expected capsules (B, n, d), weights "
                          "(n, J, D, d) and output capsules (B, J, D)");
}

// b (B, n, J), u (B, n, d), W (n, J, D, d) and v (B, J, D) give b' (and c) like b, and s like v.
template <bool Coupling>
MXReturnValue RoutedStepShape(const Attrs& attrs, Shapes* in, Shapes* out) {
  const std::vector<unsigned int>& u = in->at(1);
  const std::vector<unsigned int>& W = in->at(2);
  if (CapsulesAndTransforms(u, W)) {
    const std::vector<unsigned int> per_pair{u[0], u[1], W[1]}, per_output{u[0], W[1], W[2]};
    if (in->at(0) == per_pair && in->at(3) == per_output) {
      *out = Coupling ? Shapes{per_pair, per_pair, per_output} : Shapes{per_pair, per_output};
      return MX_SUCCESS;
    }
  }
  return ShapeError("caps_routed_step: expected logits (B, n, J), capsules (B, n, d), weights "
                    "(n, J, D, d) and output capsules (B, J, D)");
}

// A pass of Routed that reads u at input U (and W at U + 1), x at input X, y at input Y and
// prior at input Prior, and writes dot, coupling, sum, grad_u and grad_W to the outputs so
// numbered; -1 is none. The outputs Zero are zero-filled: the gradients of inputs the pass treats
// as constants.
template <int U, int X, int Y, int Dot, int Sum, int GradU, int GradW, int Prior = -1,
          int Coupling = -1, int Zero1 = -1, int Zero2 = -1>
struct RoutedKernel {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    MXTensor& u = in->at(U);
    MXTensor& W = in->at(U + 1);
    auto input = [in](int i) -> const T* { return i < 0 ? nullptr : in->at(i).data<T>(); };
    auto output = [out](int i) -> T* { return i < 0 ? nullptr : out->at(i).data<T>(); };
    for (int zero : {Zero1, Zero2}) {
      if (zero >= 0) std::fill(output(zero), output(zero) + out->at(zero).size(), T(0));
    }
    Routed(RoutedPass<T>{u.data<T>(), W.data<T>(), input(X), input(Y), input(Prior), output(Dot),
                         output(Coupling), output(Sum), output(GradU), output(GradW),
                         u.shape[0], W.shape[0], W.shape[1], W.shape[2], W.shape[3]});
  }
};

// forward inputs: c, u, W; output: s
typedef RoutedKernel<1, 0, -1, -1, 0, -1, -1> RoutedSumForward;
// backward inputs: grad s, c, u, W, s; outputs: grad c, grad u, grad W
typedef RoutedKernel<2, 1, 0, 0, -1, 1, 2> RoutedSumBackward;
// forward inputs: u, W, v; output: a
typedef RoutedKernel<0, -1, 2, 0, -1, -1, -1> RoutedAgreementForward;
// backward inputs: grad a, u, W, v, a; outputs: grad u, grad W, grad v
typedef RoutedKernel<1, 0, 3, -1, 2, 0, 1> RoutedAgreementBackward;
// forward inputs: b, u, W, v; outputs: b + a, c = softmax(b + a), s
typedef RoutedKernel<1, -1, 3, 0, 2, -1, -1, 0, 1> RoutedStepForward;
// the same without c: outputs b + a, s
typedef RoutedKernel<1, -1, 3, 0, 1, -1, -1, 0> RoutedStepDetachedForward;
// backward inputs: grad b', grad c, grad s, b, u, W, v, b', c, s; outputs: grad b (zero), grad u,
// grad W, grad v (zero)
typedef RoutedKernel<4, 8, 2, -1, -1, 1, 2, -1, -1, 0, 3> RoutedStepBackward;

// forward inputs: u, W; output: y
struct PredictionsForward {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    MXTensor& W = in->at(1);
    Predictions(in->at(0).data<T>(), W.data<T>(), out->at(0).data<T>(), in->at(0).shape[0],
                W.shape[0], W.shape[1], W.shape[2], W.shape[3]);
  }
};

// backward inputs: grad y, u, W; outputs: grad u, grad W
struct PredictionsGradient {
  template <typename T>
  static void Run(std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
    MXTensor& W = in->at(2);
    PredictionsBackward(in->at(0).data<T>(), in->at(1).data<T>(), W.data<T>(),
                        out->at(0).data<T>(), out->at(1).data<T>(), in->at(1).shape[0],
                        W.shape[0], W.shape[1], W.shape[2], W.shape[3]);
  }
};

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

// An operator of Inputs inputs and Outputs outputs of one float type with its shape function and
// forward kernel; REGISTER_CAPS_OP adds its backward kernel.
#define REGISTER_CAPS_FORWARD_N(Name, Inputs, Outputs, Shape, Forward) \
  REGISTER_OP(Name)                                                    \
      .setParseAttrs(InputsAndOutputs<Inputs, Outputs>)                \
      .setInferType(SameFloatType)                                     \
      .setInferShape(Shape)                                            \
      .setForward(ByDtype<Forward>, "cpu")

#define REGISTER_CAPS_FORWARD(Name, Inputs, Shape, Forward) \
  REGISTER_CAPS_FORWARD_N(Name, Inputs, 1, Shape, Forward)

#define REGISTER_CAPS_OP(Name, Inputs, Shape, Forward, Backward) \
  REGISTER_CAPS_FORWARD(Name, Inputs, Shape, Forward).setBackward(ByDtype<Backward>, "cpu")

REGISTER_CAPS_OP(caps_weighted_sum, 2, WeightedSumShape, WeightedSumForward, WeightedSumBackward);
REGISTER_CAPS_OP(caps_agreement, 2, AgreementShape, AgreementForward, AgreementBackward);
REGISTER_CAPS_OP(caps_predictions, 2, PredictionsShape, PredictionsForward, PredictionsGradient);
REGISTER_CAPS_OP(caps_routed_sum, 3, RoutedShape<true>, RoutedSumForward, RoutedSumBackward);
REGISTER_CAPS_OP(caps_routed_agreement, 3, RoutedShape<false>, RoutedAgreementForward,
                 RoutedAgreementBackward);

// The same two forward passes with no backward at all, for routing's iterations before the last
// with detach_intermediate, whose outputs routing detaches: MXNet then gives their inputs zero
// gradients without a backward pass, and the transforms need no detached copy.
REGISTER_CAPS_FORWARD(caps_routed_sum_detached, 3, RoutedShape<true>, RoutedSumForward);
REGISTER_CAPS_FORWARD(caps_routed_agreement_detached, 3, RoutedShape<false>,
                      RoutedAgreementForward);

// One iteration of routing after the first, from the logits b and the output capsules v of the
// iteration before: b' = b + agreement, c = softmax(b'), s = sum_i c u_hat, in one pass (one
// recomputation of the predictions where the agreement and the sum took two). Its agreement is
// detached: gradients reach u and W through s with c held constant, b and v get none; routing
// uses it where detach_intermediate makes that the gradient, with b' and c detached. The
// detached variant, for the iterations before the last, has no backward and does not output c
// (MXNet refuses to differentiate a graph in which an output of an operator without a backward
// goes unused).
REGISTER_CAPS_FORWARD_N(caps_routed_step, 4, 3, RoutedStepShape<true>, RoutedStepForward)
    .setBackward(ByDtype<RoutedStepBackward>, "cpu");
REGISTER_CAPS_FORWARD_N(caps_routed_step_detached, 4, 2, RoutedStepShape<false>,
                        RoutedStepDetachedForward);

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
