extension Duration {
    /// The duration in whole nanoseconds (metrics and statistics record this unit).
    public var wholeNanoseconds: Int64 {
        components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000
    }
}
