/* Native stepping loop for the C MuJoCo backend (see native.py / mujoco_c.py).
 *
 * Does, per slot, exactly what MujocoBackend._run does in Python, with the same MuJoCo
 * calls in the same order, so results are bit-identical:
 *   overrides -> mj_setState -> mocap/ctrl -> mj_step x frame_skip -> mj_forward
 *   -> readings (float64) -> mj_getState.
 * Called through ctypes, which releases the GIL for the duration of the call.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mujoco/mujoco.h>

/* Reading kinds: the `code` column of metaworld_jax.readings.KINDS (tests/test_native_backend.py checks). */
enum {
  K_BODY_XPOS = 0,
  K_BODY_XQUAT = 1,
  K_GEOM_XPOS = 2,
  K_GEOM_XMAT = 3,
  K_SITE_XPOS = 4,
  K_SITE_XMAT = 5,
  K_QPOS = 6,
  K_QVEL = 7,
  K_TOUCHING = 8,
};

/* numpy's pairwise summation (float64 add.reduce inner loop), so the summed pad force
 * rounds exactly as `force[adr[mask]].sum()` does. */
static double pairwise_sum(const double* a, int64_t n) {
  if (n < 8) {
    double res = 0.;
    for (int64_t i = 0; i < n; i++) res += a[i];
    return res;
  } else if (n <= 128) {
    double r[8], res;
    int64_t i;
    for (int j = 0; j < 8; j++) r[j] = a[j];
    for (i = 8; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; j++) r[j] += a[i + j];
    }
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[i];
    return res;
  } else {
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
  }
}

/* np.sum over a contiguous 1-d float64 array (checked against numpy in the tests). */
static double np_sum(const double* a, int64_t n) { return pairwise_sum(a, n); }

static double pad_force(const mjData* d, int obj, int pad, double* buf) {
  int n = 0;
  for (int c = 0; c < d->ncon; c++) {
    int g1 = d->contact[c].geom1, g2 = d->contact[c].geom2;
    if ((g1 == obj || g2 == obj) && (g1 == pad || g2 == pad)) {
      buf[n++] = d->efc_force[d->contact[c].efc_address];
    }
  }
  return n ? np_sum(buf, n) : 0.0;
}

static double touching(const mjData* d, int obj, int left, int right) {
  if (d->ncon == 0) return 0.0;
  double local[64];
  double* buf = d->ncon <= 64 ? local : (double*)malloc(sizeof(double) * d->ncon);
  if (!buf) return 0.0;
  double res = (pad_force(d, obj, left, buf) > 0 && pad_force(d, obj, right, buf) > 0) ? 1.0 : 0.0;
  if (buf != local) free(buf);
  return res;
}

/* np.clip for float64: min(max(x, lo), hi) with NaN propagation. */
static double np_clip(double x, double lo, double hi) {
  double v = isnan(x) ? x : (x > lo ? x : lo);
  return isnan(v) ? v : (v < hi ? v : hi);
}

int mwj_abi_version(void) { return 1; }

int mwj_run(int64_t n_slots, const int64_t* slots, const int32_t* tasks, const int32_t* goals,
            const float* control, double* state, int64_t state_stride, double* readings,
            int64_t reading_stride, const uint64_t* models, const uint64_t* datas,
            const double* mocap_lo, const double* mocap_hi,
            const int32_t* ov_start, const int32_t* ov_ids, const int64_t* ov_val_off,
            const double* ov_vals, const int32_t* plan_start, const int32_t* plan,
            int32_t frame_skip, uint32_t spec) {
  for (int64_t s = 0; s < n_slots; s++) {
    int64_t i = slots[s];
    int t = tasks[i], g = goals[i];
    mjModel* m = (mjModel*)(uintptr_t)models[t];
    mjData* d = (mjData*)(uintptr_t)datas[t];

    /* per-goal model overrides: body_pos / site_pos rows */
    int k0 = ov_start[t], k1 = ov_start[t + 1], K = k1 - k0;
    for (int k = 0; k < K; k++) {
      int kind = ov_ids[2 * (k0 + k)], idx = ov_ids[2 * (k0 + k) + 1];
      const double* v = ov_vals + ov_val_off[t] + ((int64_t)g * K + k) * 3;
      mjtNum* dst = kind == 0 ? m->body_pos + 3 * idx : m->site_pos + 3 * idx;
      dst[0] = v[0];
      dst[1] = v[1];
      dst[2] = v[2];
    }

    double* st = state + i * state_stride;
    mj_setState(m, d, st, spec);

    const float* a = control + 4 * i;
    for (int j = 0; j < 3; j++) {
      d->mocap_pos[j] = np_clip(d->mocap_pos[j] + (double)a[j], mocap_lo[3 * t + j], mocap_hi[3 * t + j]);
    }
    d->mocap_quat[0] = 1.0;
    d->mocap_quat[1] = 0.0;
    d->mocap_quat[2] = 1.0;
    d->mocap_quat[3] = 0.0;
    d->ctrl[0] = (double)a[3];
    d->ctrl[1] = (double)(-a[3]);

    for (int k = 0; k < frame_skip; k++) mj_step(m, d);
    mj_forward(m, d);

    double* out = readings + i * reading_stride;
    int off = 0;
    for (int p = plan_start[t]; p < plan_start[t + 1]; p++) {
      const int32_t* r = plan + 4 * p;
      int id = r[1];
      switch (r[0]) {
        case K_BODY_XPOS: memcpy(out + off, d->xpos + 3 * id, 3 * sizeof(double)); off += 3; break;
        case K_BODY_XQUAT: memcpy(out + off, d->xquat + 4 * id, 4 * sizeof(double)); off += 4; break;
        case K_GEOM_XPOS: memcpy(out + off, d->geom_xpos + 3 * id, 3 * sizeof(double)); off += 3; break;
        case K_GEOM_XMAT: memcpy(out + off, d->geom_xmat + 9 * id, 9 * sizeof(double)); off += 9; break;
        case K_SITE_XPOS: memcpy(out + off, d->site_xpos + 3 * id, 3 * sizeof(double)); off += 3; break;
        case K_SITE_XMAT: memcpy(out + off, d->site_xmat + 9 * id, 9 * sizeof(double)); off += 9; break;
        case K_QPOS: out[off++] = d->qpos[id]; break;
        case K_QVEL: out[off++] = d->qvel[id]; break;
        case K_TOUCHING: out[off++] = touching(d, id, r[2], r[3]); break;
        default: return -1;
      }
    }
    mj_getState(m, d, st, spec);
  }
  return 0;
}

/* test hook: np.sum as reproduced above */
double mwj_np_sum(const double* a, int64_t n) { return np_sum(a, n); }
