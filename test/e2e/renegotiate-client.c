/*
 * A TLS 1.2 client that changes its certificate by renegotiating: what a Node client cannot do.
 * Used by test/e2e/renegotiation.test.ts against a Node HTTPS server.
 *
 *   renegotiate-client PORT CA CERT_A KEY_A CERT_B KEY_B MODE [HOLD_MS]
 *
 * MODE:
 *   first     handshake with A, renegotiate to B, then send GET /after and print its response;
 *   before    GET /before over A (response printed), renegotiate to B, then GET /after;
 *   inflight  send GET /inflight over A without reading, renegotiate to B, print the response to
 *             /inflight (the server answers it once the renegotiation is done), then GET /after.
 *   held      send GET /held over A without reading, renegotiate to B but hold back the records
 *             from the ChangeCipherSpec on (the server has B's Certificate, CertificateVerify and
 *             key exchange, and no Finished) for HOLD_MS, then finish and print the response to
 *             /held and GET /after: a request whose identity is read during that time sees a
 *             handshake that is under way.
 *   held-finished  like held, but the ChangeCipherSpec goes out too and only the Finished is
 *             held: the server has switched to the new keys and still waits for the handshake
 *             to complete.
 *
 * Output, one block per event:
 *   HANDSHAKE <version> <subject of the certificate presented>
 *   RENEGOTIATED <subject>             or  RENEGOTIATION FAILED <OpenSSL error text>
 *   RESPONSE <path>\n<raw response>\nEND
 *   CLOSED <path>                      when the server closed the connection instead of answering
 * Exit status 0 when every step ran, 2 when the renegotiation or a request failed, 1 on usage or
 * setup errors.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void print_errors(const char *what) {
  unsigned long e;
  char buf[256];
  printf("%s", what);
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    printf(" %s", buf);
  }
  printf("\n");
  fflush(stdout);
}

static void print_subject(const char *label, const char *extra, X509 *cert) {
  char name[512] = "-";
  if (cert != NULL) X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  printf("%s%s%s %s\n", label, extra[0] ? " " : "", extra, name);
  fflush(stdout);
}

static int use_certificate(SSL *ssl, const char *cert_file, const char *key_file) {
  if (SSL_use_certificate_file(ssl, cert_file, SSL_FILETYPE_PEM) != 1) return 0;
  if (SSL_use_PrivateKey_file(ssl, key_file, SSL_FILETYPE_PEM) != 1) return 0;
  return SSL_check_private_key(ssl) == 1;
}

static int send_request(SSL *ssl, const char *path) {
  char request[256];
  int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
  return SSL_write(ssl, request, n) == n;
}

/* Reads one response (headers, then Content-Length bytes of body) and prints it. */
static int read_response(SSL *ssl, const char *path) {
  static char buf[65536];
  size_t have = 0;
  long body = -1;
  char *end = NULL;
  for (;;) {
    if (end != NULL && body >= 0 && have >= (size_t)(end - buf) + 4 + (size_t)body) break;
    if (have >= sizeof buf - 1) return 0;
    int n = SSL_read(ssl, buf + have, (int)(sizeof buf - 1 - have));
    if (n <= 0) {
      printf("CLOSED %s\n", path);
      fflush(stdout);
      return 0;
    }
    have += (size_t)n;
    buf[have] = '\0';
    if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
      body = 0;
      for (char *line = buf; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0) body = strtol(line + 15, NULL, 10);
      }
    }
  }
  printf("RESPONSE %s\n%.*s\nEND\n", path, (int)have, buf);
  fflush(stdout);
  return 1;
}

/*
 * Renegotiates through memory BIOs so the records can be cut: TLS record headers stay readable
 * (type, version, length) while their content is encrypted. Records before the first
 * ChangeCipherSpec (type 20) go out at once (with send_ccs, the ChangeCipherSpec too), the rest
 * (the Finished) after hold_ms. Returns 1 when the handshake completed, 0 when the server closed
 * the connection or failed it.
 */
static int held_renegotiation(SSL *ssl, int fd, int hold_ms, int send_ccs) {
  static unsigned char out[65536], held[65536], in[16384];
  size_t pending = 0, held_len = 0;
  int holding = 0;
  BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  SSL_renegotiate(ssl);
  for (;;) {
    int done = SSL_do_handshake(ssl);
    int n;
    while ((n = BIO_read(wbio, out + pending, (int)(sizeof out - pending))) > 0) pending += (size_t)n;
    size_t at = 0;
    while (pending - at >= 5) {
      size_t length = 5 + (size_t)((out[at + 3] << 8) | out[at + 4]);
      if (pending - at < length) break;
      int ccs = out[at] == 20;
      if (ccs && !send_ccs) holding = 1;
      if (holding) {
        memcpy(held + held_len, out + at, length);
        held_len += length;
      } else if (write(fd, out + at, length) != (ssize_t)length) {
        return 0;
      }
      at += length;
      if (ccs) holding = 1;
    }
    memmove(out, out + at, pending - at);
    pending -= at;
    if (done == 1) break;
    if (SSL_get_error(ssl, done) != SSL_ERROR_WANT_READ) return 0;
    if (holding) {
      printf("HOLDING %d ms\n", hold_ms);
      fflush(stdout);
      poll(NULL, 0, hold_ms);
      if (write(fd, held, held_len) != (ssize_t)held_len) return 0;
      held_len = 0;
      /* The server is now waiting for the Finished just sent: nothing of its own is buffered. */
      SSL_set_fd(ssl, fd);
      return SSL_do_handshake(ssl) == 1;
    }
    ssize_t got = read(fd, in, sizeof in);
    if (got <= 0) return 0;
    BIO_write(rbio, in, (int)got);
  }
  SSL_set_fd(ssl, fd);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 8 && argc != 9) {
    fprintf(stderr, "usage: %s PORT CA CERT_A KEY_A CERT_B KEY_B first|before|inflight|held|held-finished [HOLD_MS]\n", argv[0]);
    return 1;
  }
  const char *mode = argv[7];

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  /* TLS 1.3 has no renegotiation. */
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1) {
    print_errors("SETUP FAILED");
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((unsigned short)atoi(argv[1]));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    perror("connect");
    return 1;
  }

  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (!use_certificate(ssl, argv[3], argv[4])) {
    print_errors("SETUP FAILED");
    return 1;
  }
  if (SSL_connect(ssl) != 1) {
    print_errors("HANDSHAKE FAILED");
    return 2;
  }
  print_subject("HANDSHAKE", SSL_get_version(ssl), SSL_get_certificate(ssl));

  if (strcmp(mode, "before") == 0) {
    if (!send_request(ssl, "/before") || !read_response(ssl, "/before")) return 2;
  } else if (strcmp(mode, "inflight") == 0) {
    if (!send_request(ssl, "/inflight")) return 2;
  } else if (strcmp(mode, "held") == 0 || strcmp(mode, "held-finished") == 0) {
    if (!send_request(ssl, "/held")) return 2;
  } else if (strcmp(mode, "first") != 0) {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 1;
  }

  /* The certificate of the SSL object is what the next handshake presents. */
  if (!use_certificate(ssl, argv[5], argv[6])) {
    print_errors("SETUP FAILED");
    return 1;
  }
  int held_finished = strcmp(mode, "held-finished") == 0;
  int held = held_finished || strcmp(mode, "held") == 0;
  if (held ? !held_renegotiation(ssl, fd, argc == 9 ? atoi(argv[8]) : 1000, held_finished)
           : SSL_renegotiate(ssl) != 1 || SSL_do_handshake(ssl) != 1) {
    print_errors("RENEGOTIATION FAILED");
    if (strcmp(mode, "inflight") == 0) read_response(ssl, "/inflight");
    return 2;
  }
  print_subject("RENEGOTIATED", "", SSL_get_certificate(ssl));

  if (strcmp(mode, "inflight") == 0 && !read_response(ssl, "/inflight")) return 2;
  if (held && !read_response(ssl, "/held")) return 2;
  if (!send_request(ssl, "/after") || !read_response(ssl, "/after")) return 2;
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return 0;
}
