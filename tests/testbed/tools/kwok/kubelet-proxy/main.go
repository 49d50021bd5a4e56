// Command kubelet-proxy is the kubelet endpoint of the testbed's fake nodes.
//
// It runs `kubectl exec` commands as local processes itself and forwards every
// other kubelet API request (logs, attach, port-forward, health) to the kwok
// controller. kwok v0.8.0 runs exec commands locally too, but it reports every
// non-zero exit status as an internal error, so kubectl exits with 1, and it
// never closes the command's stdin, so `kubectl exec -i POD -- cat` never ends.
//
// Only clients with a certificate signed by --client-ca-file may connect,
// because an exec request runs any command as the user of this process.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

const (
	// The kubelet's defaults: --streaming-connection-idle-timeout is 4h and
	// streams must be created within 30s.
	idleTimeout           = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
	// Time to wait for output pipes after the command exited, in case a
	// background child of the command keeps them open.
	outputWaitDelay = 5 * time.Second
)

type localExecutor struct {
	workDir string
}

// ExecInContainer runs cmd on this machine and returns a utilexec.ExitError
// for a non-zero exit status, which the streaming server sends to the client
// as the command's exit code.
func (e localExecutor) ExecInContainer(ctx context.Context, name, uid, container string, cmd []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize,
	timeout time.Duration) error {
	if len(cmd) == 0 {
		return errors.New("exec request has no command")
	}
	log.Printf("exec in pod %s container %s: %q (tty %v)", name, container, cmd, tty)
	command := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	command.Dir = e.workDir
	command.WaitDelay = outputWaitDelay

	var err error
	if tty {
		err = runWithTerminal(command, in, out, resize)
	} else {
		err = runWithPipes(command, in, out, errOut)
	}

	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return utilexec.CodeExitError{Err: err, Code: exitErr.ExitCode()}
	}
	if err != nil {
		log.Printf("exec in pod %s container %s failed: %v", name, container, err)
	}
	return err
}

func runWithPipes(command *exec.Cmd, in io.Reader, out, errOut io.Writer) error {
	if out != nil {
		command.Stdout = out
	}
	if errOut != nil {
		command.Stderr = errOut
	}
	if in == nil {
		return command.Run()
	}

	stdin, err := command.StdinPipe()
	if err != nil {
		return err
	}
	if err := command.Start(); err != nil {
		return err
	}
	// Closing the pipe at the end of the client's stdin delivers EOF to the command.
	go func() {
		_, _ = io.Copy(stdin, in)
		_ = stdin.Close()
	}()
	return command.Wait()
}

func runWithTerminal(command *exec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize) error {
	terminal, err := pty.Start(command)
	if err != nil {
		return err
	}
	defer terminal.Close()

	go func() {
		for size := range resize {
			_ = pty.Setsize(terminal, &pty.Winsize{Rows: size.Height, Cols: size.Width})
		}
	}()
	if in != nil {
		go func() { _, _ = io.Copy(terminal, in) }()
	}
	copied := make(chan struct{})
	go func() {
		if out != nil {
			// Reading the terminal fails with EIO once the command exited.
			_, _ = io.Copy(out, terminal)
		}
		close(copied)
	}()

	err = command.Wait()
	select {
	case <-copied:
	case <-time.After(outputWaitDelay):
	}
	return err
}

// parseExecPath returns "NAMESPACE/POD", the pod UID and the container from
// /exec/NAMESPACE/POD/CONTAINER or /exec/NAMESPACE/POD/UID/CONTAINER, the two
// exec paths of the kubelet API.
func parseExecPath(path string) (pod, uid, container string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/exec/"), "/")
	switch len(parts) {
	case 3:
		return parts[0] + "/" + parts[1], "", parts[2], true
	case 4:
		return parts[0] + "/" + parts[1], parts[2], parts[3], true
	}
	return "", "", "", false
}

func serveExec(executor localExecutor) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		pod, uid, container, ok := parseExecPath(req.URL.Path)
		if !ok {
			http.Error(w, fmt.Sprintf("invalid exec path %q", req.URL.Path), http.StatusNotFound)
			return
		}
		options, err := remotecommand.NewOptions(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeExec(w, req, executor, pod, uid, container, req.URL.Query()["command"], options,
			idleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:10250", "address to serve the kubelet API on")
	upstream := flag.String("upstream", "", "https URL of the kwok controller's server, e.g. https://127.0.0.1:10247")
	certFile := flag.String("tls-cert-file", "", "serving certificate (PEM)")
	keyFile := flag.String("tls-private-key-file", "", "private key of the serving certificate (PEM)")
	caFile := flag.String("client-ca-file", "", "CA certificate (PEM) that client certificates and the upstream's serving certificate must chain to")
	workDir := flag.String("exec-workdir", "", "working directory of exec commands (default: current directory)")
	flag.Parse()
	for name, value := range map[string]string{"upstream": *upstream, "tls-cert-file": *certFile,
		"tls-private-key-file": *keyFile, "client-ca-file": *caFile} {
		if value == "" {
			log.Fatalf("missing required flag --%s", name)
		}
	}

	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		log.Fatalf("reading --client-ca-file failed: %v", err)
	}
	caPool := x509.NewCertPool()
	if !caPool.AppendCertsFromPEM(caPEM) {
		log.Fatalf("no PEM certificate in --client-ca-file %s", *caFile)
	}
	upstreamURL, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("invalid --upstream %q: %v", *upstream, err)
	}

	upstreamTLS := &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstreamURL)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{TLSClientConfig: upstreamTLS, ForceAttemptHTTP2: false},
		// A negative interval flushes after every write, so `kubectl logs -f` streams.
		FlushInterval: -1,
		ErrorLog:      log.Default(),
	}

	mux := http.NewServeMux()
	mux.Handle("/exec/", serveExec(localExecutor{workDir: *workDir}))
	mux.Handle("/", proxy)

	server := &http.Server{
		Addr:    *listen,
		Handler: mux,
		TLSConfig: &tls.Config{
			ClientCAs:  caPool,
			ClientAuth: tls.RequireAndVerifyClientCert,
			MinVersion: tls.VersionTLS12,
			// SPDY upgrades, which exec and port-forward use, need HTTP/1.1.
			NextProtos: []string{"http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()

	log.Printf("serving the kubelet API on https://%s, forwarding all but exec to %s", *listen, upstreamURL)
	if err := server.ListenAndServeTLS(*certFile, *keyFile); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serving on %s failed: %v", *listen, err)
	}
	log.Print("stopped")
}
