// Virtual client tests
