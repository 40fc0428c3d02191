/* microaot: KISS FFT (the version TFLM's signal library builds: mixed radix 2/3/4/5, real-FFT
 * wrapper) for one scalar type; included by crt/kernels/signal_spectral.c once per type, with:
 *
 *   KF_T          the scalar (int16_t, int32_t, float)
 *   KF_FN(name)   the name of a function for this type
 *   KF_FIXED      1 for the fixed-point types (Q15 / Q31 twiddles, inputs scaled down per stage)
 *   KF_PROD       fixed: the product type (int32_t for int16, int64_t for int32)
 *   KF_FRACBITS   fixed: 15 or 31
 *   KF_SAMP_MAX   fixed: INT16_MAX or INT32_MAX
 *   KF_ATTR       function attributes (float: no fused multiply-add, as TFLM's x86 build)
 *
 * Fixed-point sums are computed as TFLM's build does: int16 operands are added in int (exact) and
 * truncated when stored; int32 operands wrap modulo 2^32 (here without undefined behaviour). */

#if KF_FIXED
#define KF_ACC int32_t
#define KF_ADD(a, b) ((int32_t)((uint32_t)(int32_t)(a) + (uint32_t)(int32_t)(b)))
#define KF_SUB(a, b) ((int32_t)((uint32_t)(int32_t)(a) - (uint32_t)(int32_t)(b)))
#define KF_NEG(a) ((int32_t)(0u - (uint32_t)(int32_t)(a)))
#define KF_HALF(x) ((x) >> 1)
#define KF_SROUND(x) ((KF_T)(((x) + ((KF_PROD)1 << (KF_FRACBITS - 1))) >> KF_FRACBITS))
#define KF_SMUL(a, b) KF_SROUND((KF_PROD)(a) * (b))
#define KF_CMUL_R(ar, ai, br, bi) KF_SROUND((KF_PROD)(ar) * (br) - (KF_PROD)(ai) * (bi))
#define KF_CMUL_I(ar, ai, br, bi) KF_SROUND((KF_PROD)(ar) * (bi) + (KF_PROD)(ai) * (br))
#define KF_FIXDIV(c, k)                                            \
    do {                                                           \
        (c)[0] = KF_SROUND((KF_PROD)(c)[0] * (KF_SAMP_MAX / (k))); \
        (c)[1] = KF_SROUND((KF_PROD)(c)[1] * (KF_SAMP_MAX / (k))); \
    } while (0)
#else
#define KF_ACC float
#define KF_ADD(a, b) ((a) + (b))
#define KF_SUB(a, b) ((a) - (b))
#define KF_NEG(a) (-(a))
#define KF_HALF(x) ((x)*0.5f)
#define KF_SMUL(a, b) ((a) * (b))
#define KF_CMUL_R(ar, ai, br, bi) ((ar) * (br) - (ai) * (bi))
#define KF_CMUL_I(ar, ai, br, bi) ((ar) * (bi) + (ai) * (br))
#define KF_FIXDIV(c, k) ((void)0)
#endif

/* complex element k of an interleaved (re, im) array */
#define KF_C(p, k) ((p) + 2 * (k))

static KF_ATTR void KF_FN(cmul)(KF_T *m, const KF_T *a, const KF_T *b)
{
    KF_T r = KF_CMUL_R(a[0], a[1], b[0], b[1]);
    KF_T i = KF_CMUL_I(a[0], a[1], b[0], b[1]);
    m[0] = r;
    m[1] = i;
}

static KF_ATTR void KF_FN(bfly2)(KF_T *fout, int32_t fstride, const KF_T *tw, int32_t m)
{
    KF_T *fout2 = KF_C(fout, m);
    const KF_T *tw1 = tw;
    KF_T t[2];
    do {
        KF_FIXDIV(fout, 2);
        KF_FIXDIV(fout2, 2);
        KF_FN(cmul)(t, fout2, tw1);
        tw1 = KF_C(tw1, fstride);
        fout2[0] = (KF_T)KF_SUB(fout[0], t[0]);
        fout2[1] = (KF_T)KF_SUB(fout[1], t[1]);
        fout[0] = (KF_T)KF_ADD(fout[0], t[0]);
        fout[1] = (KF_T)KF_ADD(fout[1], t[1]);
        fout2 += 2;
        fout += 2;
    } while (--m);
}

static KF_ATTR void KF_FN(bfly4)(KF_T *fout, int32_t fstride, const KF_T *tw, int32_t m, int32_t inverse)
{
    const KF_T *tw1 = tw, *tw2 = tw, *tw3 = tw;
    KF_T s[6][2];
    int32_t k = m;
    const int32_t m2 = 2 * m, m3 = 3 * m;
    do {
        KF_T *f1 = KF_C(fout, m), *f2 = KF_C(fout, m2), *f3 = KF_C(fout, m3);
        KF_FIXDIV(fout, 4);
        KF_FIXDIV(f1, 4);
        KF_FIXDIV(f2, 4);
        KF_FIXDIV(f3, 4);
        KF_FN(cmul)(s[0], f1, tw1);
        KF_FN(cmul)(s[1], f2, tw2);
        KF_FN(cmul)(s[2], f3, tw3);
        s[5][0] = (KF_T)KF_SUB(fout[0], s[1][0]);
        s[5][1] = (KF_T)KF_SUB(fout[1], s[1][1]);
        fout[0] = (KF_T)KF_ADD(fout[0], s[1][0]);
        fout[1] = (KF_T)KF_ADD(fout[1], s[1][1]);
        s[3][0] = (KF_T)KF_ADD(s[0][0], s[2][0]);
        s[3][1] = (KF_T)KF_ADD(s[0][1], s[2][1]);
        s[4][0] = (KF_T)KF_SUB(s[0][0], s[2][0]);
        s[4][1] = (KF_T)KF_SUB(s[0][1], s[2][1]);
        f2[0] = (KF_T)KF_SUB(fout[0], s[3][0]);
        f2[1] = (KF_T)KF_SUB(fout[1], s[3][1]);
        tw1 = KF_C(tw1, fstride);
        tw2 = KF_C(tw2, 2 * fstride);
        tw3 = KF_C(tw3, 3 * fstride);
        fout[0] = (KF_T)KF_ADD(fout[0], s[3][0]);
        fout[1] = (KF_T)KF_ADD(fout[1], s[3][1]);
        if (inverse) {
            f1[0] = (KF_T)KF_SUB(s[5][0], s[4][1]);
            f1[1] = (KF_T)KF_ADD(s[5][1], s[4][0]);
            f3[0] = (KF_T)KF_ADD(s[5][0], s[4][1]);
            f3[1] = (KF_T)KF_SUB(s[5][1], s[4][0]);
        } else {
            f1[0] = (KF_T)KF_ADD(s[5][0], s[4][1]);
            f1[1] = (KF_T)KF_SUB(s[5][1], s[4][0]);
            f3[0] = (KF_T)KF_SUB(s[5][0], s[4][1]);
            f3[1] = (KF_T)KF_ADD(s[5][1], s[4][0]);
        }
        fout += 2;
    } while (--k);
}

static KF_ATTR void KF_FN(bfly3)(KF_T *fout, int32_t fstride, const KF_T *tw, int32_t m)
{
    int32_t k = m;
    const int32_t m2 = 2 * m;
    const KF_T *tw1 = tw, *tw2 = tw;
    KF_T s[4][2];
    const KF_T epi3_i = KF_C(tw, fstride * m)[1];
    do {
        KF_T *f1 = KF_C(fout, m), *f2 = KF_C(fout, m2);
        KF_FIXDIV(fout, 3);
        KF_FIXDIV(f1, 3);
        KF_FIXDIV(f2, 3);
        KF_FN(cmul)(s[1], f1, tw1);
        KF_FN(cmul)(s[2], f2, tw2);
        s[3][0] = (KF_T)KF_ADD(s[1][0], s[2][0]);
        s[3][1] = (KF_T)KF_ADD(s[1][1], s[2][1]);
        s[0][0] = (KF_T)KF_SUB(s[1][0], s[2][0]);
        s[0][1] = (KF_T)KF_SUB(s[1][1], s[2][1]);
        tw1 = KF_C(tw1, fstride);
        tw2 = KF_C(tw2, 2 * fstride);
        f1[0] = (KF_T)KF_SUB(fout[0], KF_HALF((KF_ACC)s[3][0]));
        f1[1] = (KF_T)KF_SUB(fout[1], KF_HALF((KF_ACC)s[3][1]));
        s[0][0] = KF_SMUL(s[0][0], epi3_i);
        s[0][1] = KF_SMUL(s[0][1], epi3_i);
        fout[0] = (KF_T)KF_ADD(fout[0], s[3][0]);
        fout[1] = (KF_T)KF_ADD(fout[1], s[3][1]);
        f2[0] = (KF_T)KF_ADD(f1[0], s[0][1]);
        f2[1] = (KF_T)KF_SUB(f1[1], s[0][0]);
        f1[0] = (KF_T)KF_SUB(f1[0], s[0][1]);
        f1[1] = (KF_T)KF_ADD(f1[1], s[0][0]);
        fout += 2;
    } while (--k);
}

static KF_ATTR void KF_FN(bfly5)(KF_T *fout, int32_t fstride, const KF_T *tw, int32_t m)
{
    KF_T *f0 = fout, *f1 = KF_C(fout, m), *f2 = KF_C(fout, 2 * m), *f3 = KF_C(fout, 3 * m), *f4 = KF_C(fout, 4 * m);
    const KF_T *ya = KF_C(tw, fstride * m), *yb = KF_C(tw, fstride * 2 * m);
    KF_T s[13][2];
    int32_t u;
    for (u = 0; u < m; ++u) {
        KF_FIXDIV(f0, 5);
        KF_FIXDIV(f1, 5);
        KF_FIXDIV(f2, 5);
        KF_FIXDIV(f3, 5);
        KF_FIXDIV(f4, 5);
        s[0][0] = f0[0];
        s[0][1] = f0[1];
        KF_FN(cmul)(s[1], f1, KF_C(tw, u * fstride));
        KF_FN(cmul)(s[2], f2, KF_C(tw, 2 * u * fstride));
        KF_FN(cmul)(s[3], f3, KF_C(tw, 3 * u * fstride));
        KF_FN(cmul)(s[4], f4, KF_C(tw, 4 * u * fstride));
        s[7][0] = (KF_T)KF_ADD(s[1][0], s[4][0]);
        s[7][1] = (KF_T)KF_ADD(s[1][1], s[4][1]);
        s[10][0] = (KF_T)KF_SUB(s[1][0], s[4][0]);
        s[10][1] = (KF_T)KF_SUB(s[1][1], s[4][1]);
        s[8][0] = (KF_T)KF_ADD(s[2][0], s[3][0]);
        s[8][1] = (KF_T)KF_ADD(s[2][1], s[3][1]);
        s[9][0] = (KF_T)KF_SUB(s[2][0], s[3][0]);
        s[9][1] = (KF_T)KF_SUB(s[2][1], s[3][1]);
        f0[0] = (KF_T)KF_ADD(f0[0], KF_ADD(s[7][0], s[8][0]));
        f0[1] = (KF_T)KF_ADD(f0[1], KF_ADD(s[7][1], s[8][1]));
        s[5][0] = (KF_T)KF_ADD(KF_ADD(s[0][0], KF_SMUL(s[7][0], ya[0])), KF_SMUL(s[8][0], yb[0]));
        s[5][1] = (KF_T)KF_ADD(KF_ADD(s[0][1], KF_SMUL(s[7][1], ya[0])), KF_SMUL(s[8][1], yb[0]));
        s[6][0] = (KF_T)KF_ADD(KF_SMUL(s[10][1], ya[1]), KF_SMUL(s[9][1], yb[1]));
        s[6][1] = (KF_T)KF_SUB(KF_NEG(KF_SMUL(s[10][0], ya[1])), KF_SMUL(s[9][0], yb[1]));
        f1[0] = (KF_T)KF_SUB(s[5][0], s[6][0]);
        f1[1] = (KF_T)KF_SUB(s[5][1], s[6][1]);
        f4[0] = (KF_T)KF_ADD(s[5][0], s[6][0]);
        f4[1] = (KF_T)KF_ADD(s[5][1], s[6][1]);
        s[11][0] = (KF_T)KF_ADD(KF_ADD(s[0][0], KF_SMUL(s[7][0], yb[0])), KF_SMUL(s[8][0], ya[0]));
        s[11][1] = (KF_T)KF_ADD(KF_ADD(s[0][1], KF_SMUL(s[7][1], yb[0])), KF_SMUL(s[8][1], ya[0]));
        s[12][0] = (KF_T)KF_ADD(KF_NEG(KF_SMUL(s[10][1], yb[1])), KF_SMUL(s[9][1], ya[1]));
        s[12][1] = (KF_T)KF_SUB(KF_SMUL(s[10][0], yb[1]), KF_SMUL(s[9][0], ya[1]));
        f2[0] = (KF_T)KF_ADD(s[11][0], s[12][0]);
        f2[1] = (KF_T)KF_ADD(s[11][1], s[12][1]);
        f3[0] = (KF_T)KF_SUB(s[11][0], s[12][0]);
        f3[1] = (KF_T)KF_SUB(s[11][1], s[12][1]);
        f0 += 2;
        f1 += 2;
        f2 += 2;
        f3 += 2;
        f4 += 2;
    }
}

/* kf_work: the recursive decimation in time over the factors (p, m), input stride 1 */
static KF_ATTR void KF_FN(work)(KF_T *fout, const KF_T *f, int32_t fstride, const int32_t *factors,
                                const uaot_sig_fft_params_t *p)
{
    KF_T *beg = fout;
    const int32_t radix = factors[0], m = factors[1];
    const KF_T *end = KF_C(fout, radix * m);
    const KF_T *tw = (const KF_T *)p->twiddles;
    if (m == 1) {
        do {
            fout[0] = f[0];
            fout[1] = f[1];
            f = KF_C(f, fstride);
        } while ((fout += 2) != end);
    } else {
        do {
            KF_FN(work)(fout, f, fstride * radix, factors + 2, p);
            f = KF_C(f, fstride);
        } while ((fout = KF_C(fout, m)) != end);
    }
    switch (radix) {
    case 2:
        KF_FN(bfly2)(beg, fstride, tw, m);
        break;
    case 3:
        KF_FN(bfly3)(beg, fstride, tw, m);
        break;
    case 4:
        KF_FN(bfly4)(beg, fstride, tw, m, p->inverse);
        break;
    default:
        KF_FN(bfly5)(beg, fstride, tw, m);
        break;
    }
}

/* kiss_fftr of one row: ``time`` holds N samples, ``tmp`` N / 2 complex, ``freq`` N / 2 + 1 complex */
static KF_ATTR void KF_FN(fftr)(const uaot_sig_fft_params_t *p, const KF_T *time, KF_T *tmp, KF_T *freq)
{
    const int32_t ncfft = p->fft_length / 2;
    const KF_T *stw = (const KF_T *)p->super_twiddles;
    KF_T tdc[2];
    int32_t k;
    KF_FN(work)(tmp, time, 1, p->factors, p);
    tdc[0] = tmp[0];
    tdc[1] = tmp[1];
    KF_FIXDIV(tdc, 2);
    freq[0] = (KF_T)KF_ADD(tdc[0], tdc[1]);
    KF_C(freq, ncfft)[0] = (KF_T)KF_SUB(tdc[0], tdc[1]);
    KF_C(freq, ncfft)[1] = freq[1] = 0;
    for (k = 1; k <= ncfft / 2; ++k) {
        KF_T fpk[2], fpnk[2], f1k[2], f2k[2], tw[2];
        fpk[0] = KF_C(tmp, k)[0];
        fpk[1] = KF_C(tmp, k)[1];
        fpnk[0] = KF_C(tmp, ncfft - k)[0];
        fpnk[1] = (KF_T)KF_NEG(KF_C(tmp, ncfft - k)[1]);
        KF_FIXDIV(fpk, 2);
        KF_FIXDIV(fpnk, 2);
        f1k[0] = (KF_T)KF_ADD(fpk[0], fpnk[0]);
        f1k[1] = (KF_T)KF_ADD(fpk[1], fpnk[1]);
        f2k[0] = (KF_T)KF_SUB(fpk[0], fpnk[0]);
        f2k[1] = (KF_T)KF_SUB(fpk[1], fpnk[1]);
        KF_FN(cmul)(tw, f2k, KF_C(stw, k - 1));
        KF_C(freq, k)[0] = (KF_T)KF_HALF(KF_ADD(f1k[0], tw[0]));
        KF_C(freq, k)[1] = (KF_T)KF_HALF(KF_ADD(f1k[1], tw[1]));
        KF_C(freq, ncfft - k)[0] = (KF_T)KF_HALF(KF_SUB(f1k[0], tw[0]));
        KF_C(freq, ncfft - k)[1] = (KF_T)KF_HALF(KF_SUB(tw[1], f1k[1]));
    }
}

/* kiss_fftri of one row: ``freq`` N / 2 + 1 complex, ``tmp`` N / 2 complex, ``time`` N samples */
static KF_ATTR void KF_FN(fftri)(const uaot_sig_fft_params_t *p, const KF_T *freq, KF_T *tmp, KF_T *time)
{
    const int32_t ncfft = p->fft_length / 2;
    const KF_T *stw = (const KF_T *)p->super_twiddles;
    int32_t k;
    tmp[0] = (KF_T)KF_ADD(freq[0], KF_C(freq, ncfft)[0]);
    tmp[1] = (KF_T)KF_SUB(freq[0], KF_C(freq, ncfft)[0]);
    KF_FIXDIV(tmp, 2);
    for (k = 1; k <= ncfft / 2; ++k) {
        KF_T fk[2], fnkc[2], fek[2], t[2], fok[2];
        KF_T *a = KF_C(tmp, k), *b = KF_C(tmp, ncfft - k);
        fk[0] = KF_C(freq, k)[0];
        fk[1] = KF_C(freq, k)[1];
        fnkc[0] = KF_C(freq, ncfft - k)[0];
        fnkc[1] = (KF_T)KF_NEG(KF_C(freq, ncfft - k)[1]);
        KF_FIXDIV(fk, 2);
        KF_FIXDIV(fnkc, 2);
        fek[0] = (KF_T)KF_ADD(fk[0], fnkc[0]);
        fek[1] = (KF_T)KF_ADD(fk[1], fnkc[1]);
        t[0] = (KF_T)KF_SUB(fk[0], fnkc[0]);
        t[1] = (KF_T)KF_SUB(fk[1], fnkc[1]);
        KF_FN(cmul)(fok, t, KF_C(stw, k - 1));
        a[0] = (KF_T)KF_ADD(fek[0], fok[0]);
        a[1] = (KF_T)KF_ADD(fek[1], fok[1]);
        b[0] = (KF_T)KF_SUB(fek[0], fok[0]);
        b[1] = (KF_T)KF_SUB(fek[1], fok[1]);
        b[1] = (KF_T)KF_NEG(b[1]);
    }
    KF_FN(work)(time, tmp, 1, p->factors, p);
}

static KF_ATTR uaot_status_t KF_FN(rfft)(const uaot_sig_fft_params_t *p, const KF_T *input, KF_T *output, void *scratch)
{
    KF_T *row = (KF_T *)scratch;
    KF_T *tmp;
    int32_t r, i;
    if (!p || !input || !output || !scratch || p->fft_length < 4 || p->in_length > p->fft_length) {
        return UAOT_ERR_ARG;
    }
    tmp = row + p->fft_length;
    for (r = 0; r < p->rows; ++r) {
        const KF_T *in = input + (int32_t)r * p->in_length;
        for (i = 0; i < p->in_length; ++i) {
            row[i] = in[i];
        }
        for (; i < p->fft_length; ++i) {
            row[i] = 0;
        }
        KF_FN(fftr)(p, row, tmp, output + 2 * r * p->out_length);
    }
    return UAOT_OK;
}

static KF_ATTR uaot_status_t KF_FN(irfft)(const uaot_sig_fft_params_t *p, const KF_T *input, KF_T *output,
                                          void *scratch)
{
    int32_t r;
    if (!p || !input || !output || !scratch || p->fft_length < 4) {
        return UAOT_ERR_ARG;
    }
    for (r = 0; r < p->rows; ++r) {
        KF_T *out = output + r * p->out_length;
        KF_FN(fftri)(p, input + 2 * r * p->in_length, (KF_T *)scratch, out);
#if !KF_FIXED
        {
            int32_t i;
            for (i = 0; i < p->fft_length; ++i) {
                out[i] /= (float)p->fft_length;
            }
        }
#endif
    }
    return UAOT_OK;
}

#undef KF_ACC
#undef KF_ADD
#undef KF_SUB
#undef KF_NEG
#undef KF_HALF
#undef KF_SROUND
#undef KF_SMUL
#undef KF_CMUL_R
#undef KF_CMUL_I
#undef KF_FIXDIV
#undef KF_C
