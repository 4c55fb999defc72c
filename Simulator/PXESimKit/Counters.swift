import BootCore

// Sums of counters over server incarnations (a simulated crash starts a new engine).

extension DHCPServerCounters {
    mutating func add(_ o: DHCPServerCounters) {
        received += o.received; malformed += o.malformed; ignored += o.ignored
        offers += o.offers; acks += o.acks; naks += o.naks; bootpReplies += o.bootpReplies
        declines += o.declines; releases += o.releases; informs += o.informs
        refusedByAccess += o.refusedByAccess; refusedNotPXE += o.refusedNotPXE
        poolExhausted += o.poolExhausted; authorityFailures += o.authorityFailures
        pendingOverflow += o.pendingOverflow
    }
}

extension TFTPServerCounters {
    mutating func add(_ o: TFTPServerCounters) {
        received += o.received; malformed += o.malformed; ignored += o.ignored
        sessionsStarted += o.sessionsStarted; sessionsCompleted += o.sessionsCompleted
        sessionsFailed += o.sessionsFailed; writeRequests += o.writeRequests
        refusedNames += o.refusedNames; notFound += o.notFound; refusedBusy += o.refusedBusy
        duplicateRequests += o.duplicateRequests; retransmissions += o.retransmissions
        dataPacketsSent += o.dataPacketsSent; duplicateAcks += o.duplicateAcks
        clientErrors += o.clientErrors; errorsSent += o.errorsSent; wrongTID += o.wrongTID
        timeouts += o.timeouts
    }
}
