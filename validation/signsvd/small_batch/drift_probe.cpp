#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include "signsvd_batch_one.hpp"
#include "signsvd_de.hpp"
using namespace Eigen;
// chi^2_k nodes in t = ln q: weights w(t) = q^{k/2} e^{-q/2}/(2^{k/2}Γ(k/2)) h
static void chi2_nodes(int k, double h, std::vector<double>& q, std::vector<double>& w) {
  q.clear();
  w.clear();
  double lg = std::lgamma(0.5 * k) + 0.5 * k * std::log(2.0);
  double s = 0;
  for (double t = -40.0; t < std::log(400.0); t += h) {
    double qq = std::exp(t);
    double lw = 0.5 * k * t - 0.5 * qq - lg;
    if (lw < -40) continue;
    q.push_back(qq);
    w.push_back(std::exp(lw) * h);
    s += std::exp(lw) * h;
  }
  for (auto& x : w) x /= s;
}
static Matrix2d sqrtm(const Matrix2d& M) {
  double det = M.determinant(), sd = std::sqrt(det);
  return (M + sd * Matrix2d::Identity()) / std::sqrt(M.trace() + 2 * sd);
}
int main(int argc, char** argv) {
  int d = atoi(argv[1]), B = atoi(argv[2]);
  double m = atof(argv[3]);
  double scale = atof(argv[4]);
  double alpha = atof(argv[5]), beta = atof(argv[6]), sigma = 0.5;
  int nmc = atoi(argv[7]);
  ArrayXd lam(d), rho(d);
  for (int j = 0; j < d; ++j) {
    lam[j] = std::pow(j + 1.0, -2 * alpha);
    rho[j] = std::pow(j + 1.0, -2 * beta) * (j < 5 ? scale : 1.0);
  }
  ArrayXd ell = lam * rho;
  double s2 = sigma * sigma;
  ArrayXd Ade, Nde, Ainf, Ninf;
  signdyn::detail::SignsvdDeSolver de(lam, B, m, sigma);
  de.evaluate(rho, Ade, Nde);
  double mb = 1e8;
  signdyn::detail::SignsvdDeSolver de2(lam, B, mb, sigma);
  de2.evaluate(rho, Ainf, Ninf);
  Ainf *= std::sqrt(mb / m);
  // cond quadrature
  std::vector<double> q1, w1, qv, wv, uu, wu;
  double h = 0.5;
  chi2_nodes(B, h, q1, w1);
  if (B > 1)
    chi2_nodes(B - 1, h, qv, wv);
  else {
    qv = {0};
    wv = {1};
  }
  for (double u = 0; u < 8; u += 0.5) {
    uu.push_back(u);
    wu.push_back((u == 0 ? 1 : 2) * 0.5 * std::exp(-0.5 * u * u) / std::sqrt(2 * M_PI));
  }
  ArrayXd Ac(d), Ar(d);
  double L = lam.sum(), E = ell.sum() + s2;
  for (int j = 0; j < d; ++j) {
    if (j == 0) {
      double a = L - lam[0], b = E - ell[0], acc = 0;
      for (size_t i = 0; i < q1.size(); ++i) {
        double q = q1[i];
        acc += w1[i] * lam[0] * q / std::sqrt((a + lam[0] * q) * (b + ell[0] * q));
      }
      Ac[0] = acc;
      Ar[0] = lam[0] * B / std::sqrt((a + lam[0] * B) * (b + ell[0] * B));
      continue;
    }
    double a = L - lam[0] - lam[j], b = E - ell[0] - ell[j], acc = 0;
    auto val = [&](double q, double u, double v) {
      Vector2d z1(std::sqrt(q), 0), zj(u, std::sqrt(v));
      Matrix2d H =
          a * Matrix2d::Identity() + lam[0] * z1 * z1.transpose() + lam[j] * zj * zj.transpose();
      Matrix2d K =
          b * Matrix2d::Identity() + ell[0] * z1 * z1.transpose() + ell[j] * zj * zj.transpose();
      Matrix2d P = sqrtm(K);
      Matrix2d C = P * H * P;
      Matrix2d S = P.inverse() * sqrtm(C).inverse() * P;
      return lam[j] * zj.dot(S * zj);
    };
    for (size_t i = 0; i < q1.size(); ++i)
      for (size_t k = 0; k < uu.size(); ++k)
        for (size_t l = 0; l < qv.size(); ++l)
          acc += w1[i] * wu[k] * wv[l] * val(q1[i], uu[k], qv[l]);
    Ac[j] = acc;
    // reference: all means: the "spread" version: x_j^T S x_j with H=(L)I? use q=B, u=1?, v=B-1
    Ar[j] = val(B, 0.0, B);  // z_j orthogonal, norm^2 B
  }
  Ac *= rho / std::sqrt(m);
  Ar *= rho / std::sqrt(m);
  // MC at m=inf
  ArrayXd Amc = ArrayXd::Zero(d), A2 = ArrayXd::Zero(d);
  std::mt19937_64 gen(1);
  std::normal_distribution<double> nd;
  MatrixXd X(B, d);
  for (int it = 0; it < nmc; ++it) {
    for (int j = 0; j < d; ++j)
      for (int b = 0; b < B; ++b) X(b, j) = nd(gen) * std::sqrt(lam[j]);
    MatrixXd H = X * X.transpose();
    MatrixXd K = X * rho.matrix().asDiagonal() * X.transpose() + s2 * MatrixXd::Identity(B, B);
    SelfAdjointEigenSolver<MatrixXd> ek(K);
    MatrixXd P = ek.operatorSqrt(), Pi = ek.operatorInverseSqrt();
    SelfAdjointEigenSolver<MatrixXd> ec(P * H * P);
    MatrixXd S = Pi * ec.operatorInverseSqrt() * P;
    MatrixXd SX = S * X;
    ArrayXd v = (X.array() * SX.array()).colwise().sum().transpose();
    Amc += v;
    A2 += v * v;
  }
  Amc /= nmc;
  A2 = (A2 / nmc - Amc * Amc).sqrt() / std::sqrt((double)nmc);
  Amc *= rho / std::sqrt(m);
  A2 *= rho / std::sqrt(m);
  int js[] = {0, 1, 2, 3, 4, 9, 19, 49, 99, 255, 511};
  printf("j   DE(m)/DEinf  MCinf/DEinf (se)   cond/ref   cond/DEinf\n");
  for (int j : js)
    if (j < d)
      printf("%3d  %.4f  %.4f (%.4f)  %.4f  %.4f\n", j + 1, Ade[j] / Ainf[j], Amc[j] / Ainf[j],
             A2[j] / Ainf[j], Ac[j] / Ar[j], Ac[j] / Ainf[j]);
  {
    ArrayXd Ab1, Nb1, Ad1, Nd1;
    signdyn::detail::SignsvdBatchOneSolver b1x(lam, mb, sigma, 0.5);
    b1x.evaluate(rho, Ab1, Nb1);
    signdyn::detail::SignsvdDeSolver d1(lam, 1, mb, sigma);
    d1.evaluate(rho, Ad1, Nd1);
    ArrayXd fadd = 1.0 + (Ab1 - Ad1) * B * std::sqrt(mb / m) / Ainf;
    ArrayXd fmul = Ab1 / Ad1;
    printf("cand add:");
    for (int j : js)
      if (j < d) printf(" %.4f", fadd[j]);
    printf("\n");
    printf("MC      :");
    for (int j : js)
      if (j < d) printf(" %.4f", Amc[j] / Ainf[j]);
    printf("\n");
    printf("B1 fac  :");
    for (int j : js)
      if (j < d) printf(" %.4f", fmul[j]);
    printf("\n");
  }
  if (B == 1) {
    ArrayXd Ab, Nb;
    signdyn::detail::SignsvdBatchOneSolver b1(lam, m, sigma, 0.5);
    b1.evaluate(rho, Ab, Nb);
    printf("B=1 exact/DE(m):");
    for (int j : js)
      if (j < d) printf(" %.4f", Ab[j] / Ade[j]);
    printf("\n");
  }
}
