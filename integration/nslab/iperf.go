package nslab

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// IperfResult is what one iperf3 TCP run measured.
type IperfResult struct {
	Seconds         float64
	SentBytes       int64
	ReceivedBytes   int64
	ReceivedMbps    float64 // goodput at the receiver, Mbit/s
	Retransmits     int64
	SenderCPUPct    float64 // host (iperf3 client) CPU utilisation
	ReceiverCPUPct  float64
	ServerNamespace string
	ClientNamespace string
}

// Iperf3 runs an iperf3 TCP test for the given duration (at most 60 s)
// from client to an iperf3 server started in server on serverAddr, and
// returns the receiver's goodput. The server is stopped afterwards.
func Iperf3(server, client *Namespace, serverAddr string, duration time.Duration) (IperfResult, error) {
	secs := int(duration.Seconds())
	if secs < 1 || secs > 60 {
		return IperfResult{}, fmt.Errorf("nslab: iperf3 duration %v: want 1 s to 60 s", duration)
	}
	srv, err := StartIperf3Server(server, serverAddr)
	if err != nil {
		return IperfResult{}, err
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), duration+20*time.Second)
	defer cancel()
	out, err := client.RunContext(ctx, "iperf3", "-J", "-c", serverAddr, "-t", strconv.Itoa(secs))
	if err != nil {
		return IperfResult{}, err
	}
	r, err := ParseIperf3([]byte(out))
	r.ServerNamespace, r.ClientNamespace = server.Name, client.Name
	return r, err
}

// StartIperf3Server starts a one-off iperf3 server (-s -1) in ns on addr
// and waits until it listens. Stop it when done.
func StartIperf3Server(ns *Namespace, addr string) (*Proc, error) {
	srv, err := ns.Start("iperf3-server", nil, "iperf3", "-s", "-1", "-B", addr)
	if err != nil {
		return nil, err
	}
	// Wait until the server listens (a client connect attempt is the probe
	// iperf3 itself would make, so check the socket table instead).
	err = WaitFor(5*time.Second, "iperf3 server on "+addr, func() error {
		out, err := ns.Run("ss", "-Htln", "src", addr+":5201")
		if err != nil {
			return err
		}
		if out == "" {
			return fmt.Errorf("not listening")
		}
		return nil
	})
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("nslab: %w", err)
	}
	return srv, nil
}

// ParseIperf3 reads the JSON report of an iperf3 client (-J). A report
// that carries an error is an error.
func ParseIperf3(out []byte) (IperfResult, error) {
	var report struct {
		End struct {
			SumSent struct {
				Seconds     float64 `json:"seconds"`
				Bytes       int64   `json:"bytes"`
				Retransmits int64   `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Bytes         int64   `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
			CPU struct {
				Host   float64 `json:"host_total"`
				Remote float64 `json:"remote_total"`
			} `json:"cpu_utilization_percent"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		return IperfResult{}, fmt.Errorf("nslab: iperf3 output: %w", err)
	}
	if report.Error != "" {
		return IperfResult{}, fmt.Errorf("nslab: iperf3: %s", report.Error)
	}
	e := report.End
	return IperfResult{
		Seconds:        e.SumSent.Seconds,
		SentBytes:      e.SumSent.Bytes,
		ReceivedBytes:  e.SumReceived.Bytes,
		ReceivedMbps:   e.SumReceived.BitsPerSecond / 1e6,
		Retransmits:    e.SumSent.Retransmits,
		SenderCPUPct:   e.CPU.Host,
		ReceiverCPUPct: e.CPU.Remote,
	}, nil
}
