//! [`NatsCluster`]: several `nats-server` processes on loopback joined by
//! routes into one cluster with clustered JetStream, each with its own
//! `server_name` and store directory.

use std::net::TcpListener;
use std::time::Duration;

use crate::{NatsServer, NatsServerBuilder};

/// Configuration for a [`NatsCluster`]; build with [`NatsCluster::builder`].
#[derive(Debug, Clone)]
pub struct NatsClusterBuilder {
    nodes: usize,
    name: String,
}

impl Default for NatsClusterBuilder {
    fn default() -> Self {
        NatsClusterBuilder {
            nodes: 3,
            name: "natsbridge".to_owned(),
        }
    }
}

impl NatsClusterBuilder {
    /// How many servers (default 3; JetStream needs 3 for replicas 3).
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes.max(1);
        self
    }

    /// The cluster name every node shares (default `natsbridge`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Starts every node (in parallel) and returns once each accepts
    /// clients. JetStream elects its meta leader shortly after: a first
    /// stream creation may need a retry (see [`NatsCluster::JETSTREAM_SETTLE`]).
    ///
    /// # Panics
    /// As [`NatsServerBuilder::start`], for any node.
    pub fn start(self) -> NatsCluster {
        let client_ports: Vec<u16> = (0..self.nodes).map(|_| free_port()).collect();
        let route_ports: Vec<u16> = (0..self.nodes).map(|_| free_port()).collect();
        let routes = route_ports
            .iter()
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(", ");
        let builders: Vec<NatsServerBuilder> = (0..self.nodes)
            .map(|i| {
                NatsServer::builder()
                    .port(client_ports[i])
                    .extra_config(&format!(
                        "server_name: {name}-n{i}\n\
                         cluster {{\n  name: {name}\n  listen: \"127.0.0.1:{route}\"\n  \
                         routes: [{routes}]\n}}",
                        name = self.name,
                        route = route_ports[i],
                    ))
            })
            .collect();
        let nodes = std::thread::scope(|scope| {
            let started: Vec<_> = builders
                .into_iter()
                .map(|builder| scope.spawn(move || builder.start()))
                .collect();
            started
                .into_iter()
                .map(|node| node.join().expect("a cluster node failed to start"))
                .collect()
        });
        NatsCluster { nodes }
    }
}

/// Several `nats-server` processes joined into one JetStream cluster on
/// loopback; every node is stopped on drop.
///
/// ```no_run
/// let mut cluster = natsbridge_testkit::NatsCluster::start(3);
/// let servers = cluster.urls(); // "nats://127.0.0.1:p1,nats://127.0.0.1:p2,..."
/// cluster.node_mut(0).kill();
/// ```
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// How long a fresh (or just-failed-over) cluster may take to elect its
    /// JetStream leaders on a loaded machine.
    pub const JETSTREAM_SETTLE: Duration = Duration::from_secs(30);

    /// Starts a cluster of `nodes` servers named `natsbridge`.
    pub fn start(nodes: usize) -> NatsCluster {
        NatsClusterBuilder::default().nodes(nodes).start()
    }

    /// Returns a builder for a cluster with non-default settings.
    pub fn builder() -> NatsClusterBuilder {
        NatsClusterBuilder::default()
    }

    /// Every node's client URL, comma-separated (what a client's server list takes).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes, in start order.
    pub fn nodes(&self) -> &[NatsServer] {
        &self.nodes
    }

    /// One node, to kill or restart it.
    pub fn node_mut(&mut self, index: usize) -> &mut NatsServer {
        &mut self.nodes[index]
    }

    /// The index of the node listening on client port `port`.
    pub fn index_of_port(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|node| node.port() == port)
    }
}

/// A loopback port nothing listens on right now (the kernel's pick).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free loopback port")
        .port()
}
