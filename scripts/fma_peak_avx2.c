// The machine's f32 FMA peak with AVX2 (for CPUs without AVX-512, where
// ../shared/bench/fma_peak.c does not compile): ten independent 8-wide FMA chains per thread.
//   gcc -O2 -mavx2 -mfma -fopenmp scripts/fma_peak_avx2.c -o /tmp/fma_peak_avx2
//   OMP_NUM_THREADS=1 /tmp/fma_peak_avx2; OMP_NUM_THREADS=2 /tmp/fma_peak_avx2
#include <immintrin.h>
#include <stdio.h>
#include <omp.h>
#define F(x) x=_mm256_fmadd_ps(x,b,c)
int main(){ long iters=1000000000; double t0=omp_get_wtime(); float total=0;
#pragma omp parallel reduction(+:total)
{ __m256 b=_mm256_set1_ps(0.999f), c=_mm256_set1_ps(1e-4f);
  __m256 a0=_mm256_set1_ps(0.1f),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0,a8=a0,a9=a0;
  for(long i=0;i<iters/10;i++){ F(a0);F(a1);F(a2);F(a3);F(a4);F(a5);F(a6);F(a7);F(a8);F(a9);}
  __m256 s=_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0,a1),_mm256_add_ps(a2,a3)),_mm256_add_ps(_mm256_add_ps(a4,a5),_mm256_add_ps(a6,_mm256_add_ps(a7,_mm256_add_ps(a8,a9)))));
  float o[8]; _mm256_storeu_ps(o,s); total+=o[0]; }
double t=omp_get_wtime()-t0; int n=omp_get_max_threads();
printf("threads %d: %.1f GFLOP/s (%.1f per thread) [%g]\n", n, n*(double)iters*16/t/1e9, (double)iters*16/t/1e9, total);}
