/*
 * The baseline counter of baseline.py, ported to C in float32 as a firmware team
 * would, speaking highfive's counter protocol on stdin/stdout (see the README,
 * "Counters under test"). Build it for the host and put it under test:
 *
 *     cc -O2 -o examples/counters/peak_counter examples/counters/peak_counter.c -lm
 *     models = ["float", "exec:counters/peak_counter"]     (in a campaign file)
 *
 * Protocol: greet with "highfive-counter 1\n"; then read frames (4-byte tag,
 * uint32 little-endian payload length, payload): BEGN (float64 rate in Hz: reset),
 * DATA (samples of float64 t, float32 x, y, z), DONE (end of trace). After each DATA
 * and DONE, answer one DETS frame: per detection float64 time and float64 score.
 * Exit when stdin closes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_LO 8.0f
#define F_HI 20.0f
#define THRESHOLD 0.5f
#define REFRACTORY_S 0.6
#define MAX_RUN_S 0.25
#define MAX_DETS 4096

typedef struct { float b0, b1, b2, a1, a2, x1, x2, y1, y2; } biquad;

static biquad stage[2];
static int primed, in_run;
static float peak;
static double peak_t, run_start, last_t;
static double det_t[MAX_DETS], det_s[MAX_DETS];
static uint32_t n_dets;

static void design(biquad *q, int highpass, float f, float fs) {
    float w = 2.0f * 3.14159265358979f * f / fs;
    float alpha = sinf(w) / (2.0f * sqrtf(0.5f)), c = cosf(w), a0 = 1.0f + alpha;
    float b0 = highpass ? (1.0f + c) / 2.0f : (1.0f - c) / 2.0f;
    float b1 = highpass ? -(1.0f + c) : 1.0f - c;
    memset(q, 0, sizeof *q);
    q->b0 = b0 / a0; q->b1 = b1 / a0; q->b2 = b0 / a0;
    q->a1 = -2.0f * c / a0; q->a2 = (1.0f - alpha) / a0;
}

static void reset(double fs) {
    float hi = F_HI < 0.45f * (float)fs ? F_HI : 0.45f * (float)fs;
    design(&stage[0], 1, F_LO, (float)fs);
    design(&stage[1], 0, hi, (float)fs);
    primed = in_run = 0;
    last_t = -INFINITY;
}

static void emit(void) {
    if (n_dets < MAX_DETS) {
        det_t[n_dets] = peak_t;
        det_s[n_dets] = peak / (2.0f * THRESHOLD) < 1.0f ? peak / (2.0f * THRESHOLD) : 1.0f;
        n_dets++;
    }
    last_t = peak_t;
}

static void step(double t, float x, float y, float z) {
    float v = sqrtf(x * x + y * y + z * z);
    if (!primed) { stage[0].x1 = stage[0].x2 = v; primed = 1; }
    for (int i = 0; i < 2; i++) {
        biquad *q = &stage[i];
        float out = q->b0 * v + q->b1 * q->x1 + q->b2 * q->x2 - q->a1 * q->y1 - q->a2 * q->y2;
        q->x2 = q->x1; q->x1 = v; q->y2 = q->y1; q->y1 = out;
        v = out;
    }
    v = fabsf(v);
    if (in_run) {
        if (v > peak) { peak = v; peak_t = t; }
        if (v < 0.5f * THRESHOLD || t - run_start >= MAX_RUN_S) { in_run = 0; emit(); }
    } else if (v >= THRESHOLD && t - last_t >= REFRACTORY_S) {
        in_run = 1; peak = v; peak_t = t; run_start = t;
    }
}

static int read_all(void *buf, size_t n) { return fread(buf, 1, n, stdin) == n; }

static void answer(void) {
    uint32_t len = n_dets * 16;
    fwrite("DETS", 1, 4, stdout);
    fwrite(&len, 4, 1, stdout);  /* the host is little-endian, as the protocol */
    for (uint32_t i = 0; i < n_dets; i++) {
        fwrite(&det_t[i], 8, 1, stdout);
        fwrite(&det_s[i], 8, 1, stdout);
    }
    fflush(stdout);
    n_dets = 0;
}

int main(void) {
    static unsigned char payload[1 << 16];
    char tag[4];
    uint32_t len;
    printf("highfive-counter 1\n");
    fflush(stdout);
    reset(50.0);
    while (read_all(tag, 4) && read_all(&len, 4)) {
        if (!memcmp(tag, "BEGN", 4)) {
            double fs;
            if (len != 8 || !read_all(&fs, 8)) return 2;
            reset(fs);
        } else if (!memcmp(tag, "DATA", 4)) {
            if (len % 20) return 2;
            for (uint32_t left = len / 20; left > 0;) {
                uint32_t n = left < sizeof payload / 20 ? left : sizeof payload / 20;
                if (!read_all(payload, n * 20)) return 2;
                for (uint32_t i = 0; i < n; i++) {
                    double t; float a[3];
                    memcpy(&t, payload + 20 * i, 8);
                    memcpy(a, payload + 20 * i + 8, 12);
                    step(t, a[0], a[1], a[2]);
                }
                left -= n;
            }
            answer();
        } else if (!memcmp(tag, "DONE", 4)) {
            if (in_run) { in_run = 0; emit(); }
            answer();
        } else {
            fprintf(stderr, "peak_counter: unknown frame tag %.4s\n", tag);
            return 2;
        }
    }
    return 0;
}
